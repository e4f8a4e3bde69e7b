"""Scheduled sessions of active pairings, and who may enter their room when."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.db import meetings, pairings
from services.sessions.adapters.vault import AgendaVault
from services.sessions.meetings import agenda as agendas
from services.sessions.meetings.schemas import SessionOut
from services.sessions.pairings import service as pairing_svc
from services.sessions.users.service import get_user
from shared.events import types as t
from shared.http import BadRequest, Conflict, Forbidden, NotFound
from shared.identity import Identity
from shared.outbox import Outbox

MAX_LENGTH = timedelta(hours=8)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone=True columns: they are stored as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_out(row: Any, open_before: timedelta, agenda: str | None = None) -> SessionOut:
    """`agenda` is the opened text, passed only when the caller is one of the two members."""
    starts = _utc(row.starts_at)
    return SessionOut(session_id=row.session_id, pairing_id=row.pairing_id, starts_at=starts,
                      ends_at=_utc(row.ends_at), state=row.state, room_opens_at=starts - open_before,
                      agenda=agenda)


async def _member_view(vault: AgendaVault, row: Any, open_before: timedelta) -> SessionOut:
    texts = await agendas.open_for_members(vault, [row])
    return to_out(row, open_before, texts[row.session_id])


async def schedule(conn: AsyncConnection, outbox: Outbox, vault: AgendaVault, identity: Identity, pairing_id: str,
                   starts_at: datetime, ends_at: datetime, agenda: str | None, now: datetime,
                   open_before: timedelta) -> SessionOut:
    row = await pairing_svc.load(conn, pairing_id)
    if not pairing_svc.is_member(row, identity):
        pairing_svc.visible(row, identity)
        raise Forbidden("Only the two members schedule their sessions.")
    if row.state != "active":
        raise Conflict(f"Sessions can only be scheduled for an active pairing (this one is {row.state}).")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise BadRequest("starts_at and ends_at need a time zone offset.")
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    if not starts_at < ends_at <= starts_at + MAX_LENGTH:
        raise BadRequest("ends_at must be after starts_at, and a session lasts at most 8 hours.")
    if ends_at <= now:
        raise BadRequest("The session would already be over.")
    session_id = uuid.uuid4().hex
    sealed = await agendas.sealed_columns(vault, session_id, agenda)
    await conn.execute(sa.insert(meetings).values(
        session_id=session_id, pairing_id=pairing_id, starts_at=starts_at, ends_at=ends_at, state="scheduled",
        created_by=identity.sub, created_at=now, **sealed))
    await outbox.add(conn, t.SessionScheduled(session_id=session_id, pairing_id=pairing_id, starts_at=starts_at,
                                              ends_at=ends_at), subject=f"session:{session_id}")
    # The member just wrote it: echo it without opening what was sealed a moment ago.
    return to_out((await load(conn, session_id))[0], open_before, agenda)


async def load(conn: AsyncConnection, session_id: str) -> tuple[Any, Any]:
    row = (await conn.execute(sa.select(meetings).where(meetings.c.session_id == session_id))).first()
    if row is None:
        raise NotFound("No such session.")
    pairing = (await conn.execute(sa.select(pairings).where(pairings.c.pairing_id == row.pairing_id))).first()
    return row, pairing


async def get(conn: AsyncConnection, vault: AgendaVault, identity: Identity, session_id: str,
              open_before: timedelta) -> SessionOut:
    row, pairing = await load(conn, session_id)
    if pairing_svc.is_member(pairing, identity):
        return await _member_view(vault, row, open_before)
    if not identity.has("admin"):
        raise NotFound("No such session.")
    return to_out(row, open_before)  # admins: times and state, never the agenda (not even opened)


async def list_for_pairing(conn: AsyncConnection, vault: AgendaVault, identity: Identity, pairing_id: str,
                           open_before: timedelta) -> list[SessionOut]:
    pairing = await pairing_svc.load(conn, pairing_id)
    pairing_svc.visible(pairing, identity)
    rows = (await conn.execute(sa.select(meetings).where(meetings.c.pairing_id == pairing_id)
                               .order_by(meetings.c.starts_at))).all()
    if not pairing_svc.is_member(pairing, identity):
        return [to_out(r, open_before) for r in rows]
    texts = await agendas.open_for_members(vault, rows)
    return [to_out(r, open_before, texts[r.session_id]) for r in rows]


async def cancel(conn: AsyncConnection, outbox: Outbox, identity: Identity, session_id: str,
                 open_before: timedelta) -> SessionOut:
    """Cancelling ends the agenda's purpose: its data key is destroyed in the same transaction."""
    row, pairing = await load(conn, session_id)
    if not pairing_svc.is_member(pairing, identity):
        if identity.has("admin"):
            raise Forbidden("Only the two members cancel their sessions.")
        raise NotFound("No such session.")
    if row.state != "scheduled":
        raise Conflict(f"A session in state {row.state} cannot be cancelled.")
    await conn.execute(sa.update(meetings).where(meetings.c.session_id == session_id).values(state="cancelled"))
    await agendas.shred_session(conn, session_id)
    await outbox.add(conn, t.SessionCancelled(session_id=session_id, pairing_id=row.pairing_id),
                     subject=f"session:{session_id}")
    return to_out((await load(conn, session_id))[0], open_before)


@dataclass(frozen=True)
class Room:
    session_id: str
    pairing_id: str
    members: tuple[str, str]  # (mentor, mentee)
    starts_at: datetime
    ends_at: datetime


class RoomRefused(Exception):
    """The caller may not enter this room now; `code` is for the client, never more detail."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def admit(conn: AsyncConnection, user_id: str, session_id: str, now: datetime, open_before: timedelta,
                close_after: timedelta) -> Room:
    """Only the two members of an active pairing, not suspended, while the room is open."""
    try:
        row, pairing = await load(conn, session_id)
    except NotFound:
        raise RoomRefused("not-found") from None
    if user_id not in (pairing.mentor_id, pairing.mentee_id):
        raise RoomRefused("not-found")  # no existence oracle for outsiders, admins included
    user = await get_user(conn, user_id)
    if user is None or user.suspended:
        raise RoomRefused("suspended")
    if pairing.state != "active":
        raise RoomRefused("pairing-not-active")
    if row.state != "scheduled":
        raise RoomRefused("session-cancelled")
    starts, ends = _utc(row.starts_at), _utc(row.ends_at)
    if now < starts - open_before:
        raise RoomRefused("room-not-open")
    if now > ends + close_after:
        raise RoomRefused("room-closed")
    return Room(session_id, pairing.pairing_id, (pairing.mentor_id, pairing.mentee_id), starts, ends)
