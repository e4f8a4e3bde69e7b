"""Application factory of the sessions service."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCIceServer
from litestar import Litestar
from prometheus_client import Gauge

import services.sessions
from services.sessions.adapters.db import outbox
from services.sessions.adapters.vault import AgendaVault, open_keyring, register_for_migrations, secure_delete
from services.sessions.config import Settings
from services.sessions.consent.service import ConsentStore
from services.sessions.meetings.agenda import with_erasure
from services.sessions.meetings.controllers import MeetingController
from services.sessions.meetings.service import Room
from services.sessions.pairings.controllers import PairingController
from services.sessions.recorder.manager import Recorders
from services.sessions.recorder.passthrough import check_aiortc
from services.sessions.recorder.recording import Recording
from services.sessions.recorder.sink import ClientCredentials, HttpRecordingSink, RecordingSink
from services.sessions.signalling.controllers import signal
from services.sessions.signalling.hub import Hub
from services.sessions.signalling.turn import ice_servers, recorder_ttl_s
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


def _recording_factory(runtime: Runtime, settings: Settings, sink: RecordingSink) -> Any:
    async def start(room: Room, recording_id: str, finished: Callable[[str], None]) -> Recording:
        servers = [RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
                   for s in ice_servers(settings.ice_urls, settings.turn_secret, "recorder", time.time(),
                                        recorder_ttl_s(settings.turn_ttl_s, room.ends_at, settings.room_close_after_s,
                                                       datetime.now(UTC)))]
        recording = Recording(room=room, recording_id=recording_id, hub=runtime.extras["hub"], sink=sink,
                              consent=runtime.extras["consent"], outbox=runtime.outbox, engine=runtime.engine,
                              ice_servers=servers, on_finished=finished)
        await recording.start()
        return recording

    return start


def create_app(settings: Settings | None = None, *, recording_sink: RecordingSink | None = None) -> Litestar:
    """`recording_sink` overrides the HTTP sink built from SESSIONS_RECORDING_SINK_URL."""
    settings = settings or Settings()
    register_for_migrations(settings.database_url, settings.keyring_path)  # migration 0003 seals old agendas

    @contextlib.asynccontextmanager
    async def setup(runtime: Runtime) -> AsyncIterator[None]:
        runtime.extras["consent"] = ConsentStore(runtime.engine)
        await secure_delete(runtime.engine)
        runtime.extras["agendas"] = AgendaVault(await asyncio.to_thread(open_keyring, settings.keyring_path))
        hub = Hub(runtime.redis, grace_s=settings.reconnect_grace_s)
        runtime.extras["hub"] = hub
        async with contextlib.AsyncExitStack() as stack:
            sink = recording_sink
            if sink is None and settings.recording_sink_url:
                client = await stack.enter_async_context(httpx.AsyncClient(
                    timeout=httpx.Timeout(connect=10.0, read=120.0, write=60.0, pool=10.0)))
                tokens = ClientCredentials(settings.recording_token_url, settings.recording_client_id,
                                           settings.recording_client_secret) if settings.recording_client_id else None
                sink = HttpRecordingSink(settings.recording_sink_url, client, tokens)
            check_aiortc()
            factory = _recording_factory(runtime, settings, sink) if sink is not None else None
            recorders = Recorders(max_recordings=settings.max_recordings, factory=factory)
            runtime.extras["recorders"] = recorders
            await hub.start()
            try:
                yield
            finally:
                await recorders.stop_all("shutdown")
                await hub.stop()

    app = build_app(
        name="sessions",
        settings=settings,
        route_handlers=[PairingController, MeetingController, signal],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        consumers=[ConsumerSpec("sessions", ("tandem.user",), with_erasure(_users_handler))],
        setup=setup,
        authenticate=True,
        description=services.sessions.__doc__ or "",
    )
    _gauges(app)
    return app


def _gauges(app: Litestar) -> None:
    """Live sockets and recordings of this instance, read at scrape time."""
    registry = app.state.metrics.registry

    def extras(name: str) -> Any:
        runtime = getattr(app.state, "runtime", None)
        return runtime.extras.get(name) if runtime is not None else None

    def sockets() -> float:
        hub = extras("hub")
        return float(hub.local_sockets()) if hub is not None else 0.0

    def recordings() -> float:
        recorders = extras("recorders")
        return float(len(recorders.active)) if recorders is not None else 0.0

    Gauge("tandem_sessions_sockets", "Signalling sockets held by this instance",
          registry=registry).set_function(sockets)
    Gauge("tandem_sessions_recordings", "Recordings running on this instance",
          registry=registry).set_function(recordings)
