"""The sessions service's resources, built once per app in its lifespan (`build_app(context=CONTEXT)`):
the rooms hub over Redis, the consent store, the agenda vault, this instance's recorders, and the
feature services that use them. Each field is handed to the route handlers by name."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.sink import ClientCredentials, HttpRecordingSink, RecordingSink
from services.sessions.adapters.vault import AgendaVault, Vault, open_keyring
from services.sessions.config import Settings
from services.sessions.consent.service import ConsentStore
from services.sessions.meetings.agenda import reclaim, shred_pairing
from services.sessions.meetings.service import Meetings
from services.sessions.mentoring_agreement.service import shred_pairing_agreements
from services.sessions.pairings.service import PairingEnd, Pairings
from services.sessions.pairings.terms import running_terms
from services.sessions.recorder.manager import Recorders
from services.sessions.recorder.passthrough import check_aiortc
from services.sessions.recorder.recording import starter
from services.sessions.signalling.hub import Hub
from services.sessions.signalling.service import Signalling
from shared.db import secure_delete
from shared.service import ContextSpec, Runtime


@dataclass(frozen=True)
class SessionsContext:
    hub: Hub
    consent: ConsentStore
    agendas: AgendaVault
    vault: Vault  # the same keyring, for the features' other sealed objects (answers, agreements, rounds)
    recorders: Recorders
    pairings: Pairings
    meetings: Meetings
    signalling: Signalling


@contextlib.asynccontextmanager
async def open_context(runtime: Runtime, *, recording_sink: RecordingSink | None = None
                       ) -> AsyncIterator[SessionsContext]:
    """Build the context; the hub listens and the recorders run while it is open. `recording_sink`
    overrides the HTTP sink built from SESSIONS_RECORDING_SINK_URL."""
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - build_app is given our Settings
    consent = ConsentStore(runtime.engine)
    # A shredded agenda's wrapped key must not linger in SQLite's free pages.
    await secure_delete(runtime.engine)
    agendas = AgendaVault(await asyncio.to_thread(open_keyring, settings.keyring_path))
    hub = Hub(runtime.redis, grace_s=settings.reconnect_grace_s)
    async with contextlib.AsyncExitStack() as stack:
        sink = recording_sink
        if sink is None and settings.recording_sink_url:
            client = await stack.enter_async_context(httpx.AsyncClient(
                timeout=httpx.Timeout(connect=10.0, read=120.0, write=60.0, pool=10.0)))
            tokens = ClientCredentials(settings.recording_token_url, settings.recording_client_id,
                                       settings.recording_client_secret) if settings.recording_client_id else None
            sink = HttpRecordingSink(settings.recording_sink_url, client, tokens)
        check_aiortc()
        recorders = Recorders(max_recordings=settings.max_recordings,
                              factory=starter(runtime, settings, hub, consent, sink) if sink is not None else None)

        async def end_in_transaction(conn: AsyncConnection, pairing_id: str) -> None:
            await shred_pairing(conn, pairing_id)  # an agenda's purpose ends with its pairing
            await shred_pairing_agreements(conn, pairing_id)  # so does the mentoring agreement's

        async def after_pairing_end(pairing_id: str) -> None:
            await reclaim(runtime.engine)  # the pairing's agenda keys leave the SQLite WAL too
            await hub.close_pairing(pairing_id)

        ending = PairingEnd(in_transaction=end_in_transaction, after=after_pairing_end)
        ctx = SessionsContext(
            hub=hub, consent=consent, agendas=agendas, vault=agendas, recorders=recorders,
            pairings=Pairings(runtime=runtime, ending=ending, term_months=settings.term_months),
            meetings=Meetings(runtime=runtime, agendas=agendas, consent=consent,
                              open_before=timedelta(seconds=settings.room_open_before_s)),
            signalling=Signalling(runtime, settings, hub, consent, recorders))
        await hub.start()
        try:
            async with running_terms(runtime, ending, interval_s=settings.term_sweep_interval_s,
                                     remind_before=timedelta(days=settings.term_reminder_days)):
                yield ctx
        finally:
            await recorders.stop_all("shutdown")
            await hub.stop()


def context(recording_sink: RecordingSink | None = None) -> ContextSpec[SessionsContext]:
    """The context with `recording_sink` in place of the HTTP sink (tests pass their own)."""
    return ContextSpec(SessionsContext, functools.partial(open_context, recording_sink=recording_sink))


CONTEXT = context()
