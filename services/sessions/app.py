"""Application factory of the sessions service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar

import services.sessions
from services.sessions.adapters.db import outbox
from services.sessions.config import Settings
from services.sessions.consent.service import ConsentStore
from services.sessions.meetings.controllers import MeetingController
from services.sessions.pairings.controllers import PairingController
from services.sessions.recorder.manager import Recorders
from services.sessions.signalling.controllers import signal
from services.sessions.signalling.hub import Hub
from services.sessions.users import service as users_svc
from shared.bus import Handler
from shared.service import ConsumerSpec, Runtime, build_app

MIGRATIONS = Path(__file__).parent / "migrations"


def _users_handler(runtime: Runtime) -> Handler:
    async def on_suspended(user_id: str) -> None:
        hub = runtime.extras.get("hub")
        if hub is not None:
            await hub.close_user(user_id)

    return users_svc.handler(runtime.engine, on_suspended)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def setup(runtime: Runtime) -> AsyncIterator[None]:
        runtime.extras["consent"] = ConsentStore(runtime.engine)
        hub = Hub(runtime.redis, grace_s=settings.reconnect_grace_s)
        runtime.extras["hub"] = hub
        recorders = Recorders(max_recordings=settings.max_recordings)
        runtime.extras["recorders"] = recorders
        await hub.start()
        try:
            yield
        finally:
            await recorders.stop_all("shutdown")
            await hub.stop()

    return build_app(
        name="sessions",
        settings=settings,
        route_handlers=[PairingController, MeetingController, signal],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        consumers=[ConsumerSpec("sessions", ("tandem.user",), _users_handler)],
        setup=setup,
        authenticate=True,
        description=services.sessions.__doc__ or "",
    )
