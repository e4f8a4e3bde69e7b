"""Who may enter a session's room, and when: only the two members of an active pairing, not suspended,
while the room is open (from `room_open_before_s` before the start to `room_close_after_s` after the end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.meetings.tables import meetings
from services.sessions.pairings.tables import pairings
from services.sessions.users.service import get_user
from shared.clock import aware
from shared.http import NotFound


async def load(conn: AsyncConnection, session_id: str) -> tuple[Any, Any]:
    """A session's row and its pairing's; NotFound if there is no such session."""
    row = (await conn.execute(sa.select(meetings).where(meetings.c.session_id == session_id))).first()
    if row is None:
        raise NotFound("No such session.")
    pairing = (await conn.execute(sa.select(pairings).where(pairings.c.pairing_id == row.pairing_id))).first()
    return row, pairing


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
    starts, ends = aware(row.starts_at), aware(row.ends_at)
    if now < starts - open_before:
        raise RoomRefused("room-not-open")
    if now > ends + close_after:
        raise RoomRefused("room-closed")
    return Room(session_id, pairing.pairing_id, (pairing.mentor_id, pairing.mentee_id), starts, ends)
