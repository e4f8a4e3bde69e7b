"""Scheduled-session routes and the consent ledger of a session."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.sessions.meetings.schemas import ConsentEntryOut, ScheduleSession, SessionOut
from services.sessions.meetings.service import Meetings
from shared.http import require_roles
from shared.identity import Identity

PEOPLE = ("mentee", "mentor", "admin")


class MeetingController(Controller):
    tags = ["sessions"]

    @post("/pairings/{pairing_id:str}/sessions", guards=[require_roles(*PEOPLE)], status_code=201)
    async def schedule(self, meetings: NamedDependency[Meetings], identity: NamedDependency[Identity],
                       pairing_id: FromPath[str], data: JSONBody[ScheduleSession]) -> SessionOut:
        """A member schedules a session of an active pairing (agenda optional, confidential)."""
        return await meetings.schedule(identity, pairing_id, data)

    @get("/pairings/{pairing_id:str}/sessions", guards=[require_roles(*PEOPLE)])
    async def list_sessions(self, meetings: NamedDependency[Meetings], identity: NamedDependency[Identity],
                            pairing_id: FromPath[str]) -> list[SessionOut]:
        """Sessions of a pairing (admins see times, never agendas)."""
        return await meetings.list_for_pairing(identity, pairing_id)

    @get("/sessions/{session_id:str}", guards=[require_roles(*PEOPLE)])
    async def get_session(self, meetings: NamedDependency[Meetings], identity: NamedDependency[Identity],
                          session_id: FromPath[str]) -> SessionOut:
        return await meetings.get(identity, session_id)

    @post("/sessions/{session_id:str}/cancel", guards=[require_roles(*PEOPLE)], status_code=200)
    async def cancel(self, meetings: NamedDependency[Meetings], identity: NamedDependency[Identity],
                     session_id: FromPath[str]) -> SessionOut:
        return await meetings.cancel(identity, session_id)

    @get("/sessions/{session_id:str}/consent-ledger", guards=[require_roles("mentee", "mentor")])
    async def consent_ledger(self, meetings: NamedDependency[Meetings], identity: NamedDependency[Identity],
                             session_id: FromPath[str]) -> list[ConsentEntryOut]:
        """Every consent transition of the session: the two members only."""
        return await meetings.consent_ledger(identity, session_id)
