"""Scheduled-session routes and the consent ledger of a session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.sessions.config import Settings
from services.sessions.meetings import agenda as agendas
from services.sessions.meetings import service
from services.sessions.meetings.schemas import ConsentEntryOut, ScheduleSession, SessionOut
from services.sessions.pairings import service as pairing_svc
from services.sessions.pairings.controllers import PEOPLE, _outbox
from shared.events.types import reason_for_members
from shared.http import NotFound, require_roles
from shared.identity import Identity
from shared.service import Runtime


def _open_before(runtime: Runtime) -> timedelta:
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - create_app passes the sessions Settings
    return timedelta(seconds=settings.room_open_before_s)


class MeetingController(Controller):
    tags = ["sessions"]

    @post("/pairings/{pairing_id:str}/sessions", guards=[require_roles(*PEOPLE)], status_code=201)
    async def schedule(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                       pairing_id: FromPath[str], data: JSONBody[ScheduleSession]) -> SessionOut:
        """A member schedules a session of an active pairing (agenda optional, confidential)."""
        async with runtime.engine.begin() as conn:
            return await service.schedule(conn, _outbox(runtime), agendas.vault_of(runtime), identity, pairing_id,
                                          data.starts_at, data.ends_at, data.agenda, datetime.now(UTC),
                                          _open_before(runtime))

    @get("/pairings/{pairing_id:str}/sessions", guards=[require_roles(*PEOPLE)])
    async def list_sessions(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                            pairing_id: FromPath[str]) -> list[SessionOut]:
        """Sessions of a pairing (admins see times, never agendas)."""
        async with runtime.engine.connect() as conn:
            return await service.list_for_pairing(conn, agendas.vault_of(runtime), identity, pairing_id,
                                                  _open_before(runtime))

    @get("/sessions/{session_id:str}", guards=[require_roles(*PEOPLE)])
    async def get_session(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                          session_id: FromPath[str]) -> SessionOut:
        async with runtime.engine.connect() as conn:
            return await service.get(conn, agendas.vault_of(runtime), identity, session_id, _open_before(runtime))

    @post("/sessions/{session_id:str}/cancel", guards=[require_roles(*PEOPLE)], status_code=200)
    async def cancel(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     session_id: FromPath[str]) -> SessionOut:
        async with runtime.engine.begin() as conn:
            out = await service.cancel(conn, _outbox(runtime), identity, session_id, _open_before(runtime))
        await agendas.reclaim(runtime.engine)
        return out

    @get("/sessions/{session_id:str}/consent-ledger", guards=[require_roles("mentee", "mentor")])
    async def consent_ledger(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                             session_id: FromPath[str]) -> list[ConsentEntryOut]:
        """Every consent transition of the session: the two members only."""
        async with runtime.engine.connect() as conn:
            _row, pairing = await service.load(conn, session_id)
            if not pairing_svc.is_member(pairing, identity):
                raise NotFound("No such session.")
        store = runtime.extras["consent"]
        return [ConsentEntryOut(seq=e["seq"], kind=e["kind"], actor=e["actor"], at=datetime.fromisoformat(e["at"]),
                                recording_id=e["recording_id"], reason=reason_for_members(e["reason"]))
                for e in await store.ledger(session_id)]
