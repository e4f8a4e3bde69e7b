"""Scheduled-session routes and the consent ledger of a session."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from services.sessions.meetings.schemas import ConsentEntryOut, ScheduleSession, SessionOut
from services.sessions.meetings.service import Meetings
from shared.http import require_roles
from shared.identity import Identity

# The feature service acting for the request's caller: handlers pass no identity on.
Yours = NamedDependency[Meetings]

PEOPLE = ("mentee", "mentor", "admin")


def _acting_for_caller(meetings: NamedDependency[Meetings], identity: NamedDependency[Identity]) -> Meetings:
    return meetings.acting_for(identity)


class MeetingController(Controller):
    tags = ["sessions"]
    dependencies = {"yours": Provide(_acting_for_caller, sync_to_thread=False)}

    @post("/pairings/{pairing_id:str}/sessions", guards=[require_roles(*PEOPLE)], status_code=201)
    async def schedule(self, yours: Yours, pairing_id: FromPath[str], data: JSONBody[ScheduleSession]) -> SessionOut:
        """A member schedules a session of an active pairing (agenda optional, confidential)."""
        return await yours.schedule(pairing_id, data)

    @get("/pairings/{pairing_id:str}/sessions", guards=[require_roles(*PEOPLE)])
    async def list_sessions(self, yours: Yours, pairing_id: FromPath[str]) -> list[SessionOut]:
        """Sessions of a pairing (admins see times, never agendas)."""
        return await yours.list_for_pairing(pairing_id)

    @get("/sessions/{session_id:str}", guards=[require_roles(*PEOPLE)])
    async def get_session(self, yours: Yours, session_id: FromPath[str]) -> SessionOut:
        """A session's times and state; its agenda for the two members only."""
        return await yours.get(session_id)

    @post("/sessions/{session_id:str}/cancel", guards=[require_roles(*PEOPLE)], status_code=200)
    async def cancel(self, yours: Yours, session_id: FromPath[str]) -> SessionOut:
        """A member cancels a scheduled session; its agenda's key is destroyed with it."""
        return await yours.cancel(session_id)

    @get("/sessions/{session_id:str}/consent-ledger", guards=[require_roles("mentee", "mentor")])
    async def consent_ledger(self, yours: Yours, session_id: FromPath[str]) -> list[ConsentEntryOut]:
        """Every consent transition of the session: the two members only."""
        return await yours.consent_ledger(session_id)
