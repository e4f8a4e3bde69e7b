"""Scheduled sessions of active pairings: scheduling, reading (agendas for the two members only),
cancelling, and a session's consent ledger. Who may enter a room when: rooms.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.vault import AgendaVault
from services.sessions.consent.service import ConsentStore
from services.sessions.meetings import agenda as agendas
from services.sessions.meetings.rooms import load
from services.sessions.meetings.schemas import ConsentEntryOut, ScheduleSession, SessionOut
from services.sessions.meetings.tables import meetings
from services.sessions.pairings import service as pairing_svc
from shared.clock import aware, utcnow
from shared.events import types as t
from shared.events.types import reason_for_members
from shared.http import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable
from shared.identity import ActsForCaller
from shared.outbox import Outbox
from shared.service import Runtime

MAX_LENGTH = timedelta(hours=8)


def to_out(row: Any, open_before: timedelta, agenda: str | None = None) -> SessionOut:
    """`agenda` is the opened text, passed only when the caller is one of the two members."""
    starts = aware(row.starts_at)
    return SessionOut(session_id=row.session_id, pairing_id=row.pairing_id, starts_at=starts,
                      ends_at=aware(row.ends_at), state=row.state, room_opens_at=starts - open_before,
                      agenda=agenda)


def _times(starts_at: datetime, ends_at: datetime, now: datetime) -> tuple[datetime, datetime]:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise BadRequest("starts_at and ends_at need a time zone offset.")
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    if not starts_at < ends_at <= starts_at + MAX_LENGTH:
        raise BadRequest("ends_at must be after starts_at, and a session lasts at most 8 hours.")
    if ends_at <= now:
        raise BadRequest("The session would already be over.")
    return starts_at, ends_at


@dataclass(frozen=True)
class Meetings(ActsForCaller):
    """The session routes' work for one caller."""

    runtime: Runtime
    agendas: AgendaVault
    consent: ConsentStore
    open_before: timedelta

    def _outbox(self) -> Outbox:
        if self.runtime.outbox is None:  # pragma: no cover - create_app always configures it
            raise ServiceUnavailable()
        return self.runtime.outbox

    async def schedule(self, pairing_id: str, data: ScheduleSession) -> SessionOut:
        """A member schedules a session of their active pairing; the agenda is sealed before it is stored."""
        now = utcnow()
        async with self.runtime.engine.begin() as conn:
            row = await pairing_svc.load(conn, pairing_id)
            if not pairing_svc.is_member(row, self.me):
                pairing_svc.visible(row, self.me)
                raise Forbidden("Only the two members schedule their sessions.")
            if row.state != "active":
                raise Conflict(f"Sessions can only be scheduled for an active pairing (this one is {row.state}).")
            starts_at, ends_at = _times(data.starts_at, data.ends_at, now)
            session_id = uuid.uuid4().hex
            sealed = await agendas.sealed_columns(self.agendas, session_id, data.agenda)
            await conn.execute(sa.insert(meetings).values(
                session_id=session_id, pairing_id=pairing_id, starts_at=starts_at, ends_at=ends_at,
                state="scheduled", created_by=self.me.sub, created_at=now, **sealed))
            await self._outbox().add(conn, t.SessionScheduled(session_id=session_id, pairing_id=pairing_id,
                                                              starts_at=starts_at, ends_at=ends_at),
                                     subject=f"session:{session_id}")
            # The member just wrote it: echo it without opening what was sealed a moment ago.
            return to_out((await load(conn, session_id))[0], self.open_before, data.agenda)

    async def get(self, session_id: str) -> SessionOut:
        async with self.runtime.engine.connect() as conn:
            row, pairing = await load(conn, session_id)
        if pairing_svc.is_member(pairing, self.me):
            texts = await agendas.open_for_members(self.agendas, [row])
            return to_out(row, self.open_before, texts[row.session_id])
        if not self.me.has("admin"):
            raise NotFound("No such session.")
        return to_out(row, self.open_before)  # admins: times and state, never the agenda (not even opened)

    async def list_for_pairing(self, pairing_id: str) -> list[SessionOut]:
        async with self.runtime.engine.connect() as conn:
            pairing = await pairing_svc.load(conn, pairing_id)
            pairing_svc.visible(pairing, self.me)
            rows = (await conn.execute(sa.select(meetings).where(meetings.c.pairing_id == pairing_id)
                                       .order_by(meetings.c.starts_at))).all()
        if not pairing_svc.is_member(pairing, self.me):
            return [to_out(r, self.open_before) for r in rows]
        texts = await agendas.open_for_members(self.agendas, rows)
        return [to_out(r, self.open_before, texts[r.session_id]) for r in rows]

    async def cancel(self, session_id: str) -> SessionOut:
        """Cancelling ends the agenda's purpose: its data key is destroyed in the same transaction."""
        async with self.runtime.engine.begin() as conn:
            out = await self._cancel(conn, session_id)
        await agendas.reclaim(self.runtime.engine)
        return out

    async def _cancel(self, conn: AsyncConnection, session_id: str) -> SessionOut:
        row, pairing = await load(conn, session_id)
        if not pairing_svc.is_member(pairing, self.me):
            if self.me.has("admin"):
                raise Forbidden("Only the two members cancel their sessions.")
            raise NotFound("No such session.")
        if row.state != "scheduled":
            raise Conflict(f"A session in state {row.state} cannot be cancelled.")
        await conn.execute(sa.update(meetings).where(meetings.c.session_id == session_id).values(state="cancelled"))
        await agendas.shred_session(conn, session_id)
        await self._outbox().add(conn, t.SessionCancelled(session_id=session_id, pairing_id=row.pairing_id),
                                 subject=f"session:{session_id}")
        return to_out((await load(conn, session_id))[0], self.open_before)

    async def consent_ledger(self, session_id: str) -> list[ConsentEntryOut]:
        """Every consent transition of the session: the two members only (anyone else: no such session)."""
        async with self.runtime.engine.connect() as conn:
            _row, pairing = await load(conn, session_id)
        if not pairing_svc.is_member(pairing, self.me):
            raise NotFound("No such session.")
        return [ConsentEntryOut(seq=e["seq"], kind=e["kind"], actor=e["actor"],
                                at=datetime.fromisoformat(e["at"]), recording_id=e["recording_id"],
                                reason=reason_for_members(e["reason"]))
                for e in await self.consent.ledger(session_id)]
