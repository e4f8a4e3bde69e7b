"""Application factory of the sessions service."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from prometheus_client import Gauge

import services.sessions
from services.sessions.adapters.db import outbox
from services.sessions.adapters.sink import RecordingSink
from services.sessions.adapters.vault import register_for_migrations
from services.sessions.checkins.controllers import ROUTES as CHECKIN_ROUTES
from services.sessions.config import Settings
from services.sessions.context import SessionsContext, context
from services.sessions.erasure import service as programme
from services.sessions.evaluation import service as reflections
from services.sessions.evaluation.controllers import ROUTES as EVALUATION_ROUTES
from services.sessions.matching.controllers import ROUTES as MATCHING_ROUTES
from services.sessions.meetings import agenda
from services.sessions.meetings.controllers import MeetingController
from services.sessions.mentoring_agreement.controllers import ROUTES as AGREEMENT_ROUTES
from services.sessions.pairings.controllers import PairingController
from services.sessions.profiles.controllers import ROUTES as PROFILE_ROUTES
from services.sessions.questionnaire.controllers import ROUTES as QUESTIONNAIRE_ROUTES
from services.sessions.resources.controllers import ROUTES as RESOURCE_ROUTES
from services.sessions.signalling.controllers import signal
from services.sessions.users import service as users
from shared.bus import Handler
from shared.events import Envelope
from shared.service import ConsumerSpec, Runtime, build_app

MIGRATIONS = Path(__file__).parent / "migrations"


def user_events(runtime: Runtime, ctx: SessionsContext) -> Handler:
    """Group "sessions" on `tandem.user` (one group: the catalogue's): the users projection (a suspension
    ends the member's calls at once), then a member's erasure: agendas, reflections, programme data."""
    project = users.handler(runtime.engine, ctx.hub.close_user)

    async def handle(envelope: Envelope) -> None:
        await project(envelope)
        await agenda.on_user_event(runtime.engine, envelope)
        await reflections.on_user_event(runtime.engine, envelope)
        await programme.on_user_event(runtime.engine, envelope)

    return handle


def create_app(settings: Settings | None = None, *, recording_sink: RecordingSink | None = None) -> Litestar:
    """`recording_sink` overrides the HTTP sink built from SESSIONS_RECORDING_SINK_URL."""
    settings = settings or Settings()
    register_for_migrations(settings.database_url, settings.keyring_path)  # migration 0003 seals old agendas
    app = build_app(
        name="sessions",
        settings=settings,
        route_handlers=[PairingController, MeetingController, signal, *PROFILE_ROUTES, *QUESTIONNAIRE_ROUTES,
                        *MATCHING_ROUTES, *AGREEMENT_ROUTES, *CHECKIN_ROUTES, *EVALUATION_ROUTES, *RESOURCE_ROUTES],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        context=context(recording_sink),
        consumers=[ConsumerSpec("sessions", ("tandem.user",), user_events)],
        authenticate=True,
        description=services.sessions.__doc__ or "",
    )
    _gauges(app)
    return app


def _gauges(app: Litestar) -> None:
    """Live sockets and recordings of this instance, read at scrape time."""
    registry = app.state.metrics.registry

    def ctx() -> SessionsContext | None:
        return getattr(app.state, "context", None)

    def sockets() -> float:
        c = ctx()
        return float(c.hub.local_sockets()) if c is not None else 0.0

    def recordings() -> float:
        c = ctx()
        return float(len(c.recorders.active)) if c is not None else 0.0

    Gauge("tandem_sessions_sockets", "Signalling sockets held by this instance",
          registry=registry).set_function(sockets)
    Gauge("tandem_sessions_recordings", "Recordings running on this instance",
          registry=registry).set_function(recordings)
