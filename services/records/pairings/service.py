"""Pairing membership and session→pairing projection, fed by `tandem.pairing` and `tandem.session`
events (consumer group "records"). Requests read this projection and never wait on another service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.records.pairings.tables import pairing_sessions, pairings


@dataclass(frozen=True)
class Pairing:
    pairing_id: str
    mentor_id: str
    mentee_id: str
    state: str
    ended_at: datetime | None

    @property
    def members(self) -> tuple[str, str]:
        return (self.mentor_id, self.mentee_id)

    def has_member(self, user_id: str) -> bool:
        return user_id in self.members


async def get_pairing(conn: AsyncConnection, pairing_id: str) -> Pairing | None:
    row = (await conn.execute(sa.select(pairings).where(pairings.c.pairing_id == pairing_id))).first()
    if row is None:
        return None
    return Pairing(row.pairing_id, row.mentor_id, row.mentee_id, row.state, row.ended_at)


async def pairings_of(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(sa.select(pairings.c.pairing_id).where(
        sa.or_(pairings.c.mentor_id == user_id, pairings.c.mentee_id == user_id)))
    return [r[0] for r in rows]


async def session_pairing(conn: AsyncConnection, session_id: str) -> str | None:
    return (await conn.execute(sa.select(pairing_sessions.c.pairing_id)
                               .where(pairing_sessions.c.session_id == session_id))).scalar()


async def _write_pairing(conn: AsyncConnection, pairing_id: str, existing: Pairing | None,
                         on_insert: Mapping[str, object], **values: object) -> None:
    """The pairing's projection row: inserted with `values` and `on_insert` if there is none yet (`existing`
    is None), else updated with `values` alone."""
    if existing is None:
        await conn.execute(sa.insert(pairings).values(pairing_id=pairing_id, **on_insert, **values))
    else:
        await conn.execute(sa.update(pairings).where(pairings.c.pairing_id == pairing_id).values(**values))


async def pairing_activated(conn: AsyncConnection, pairing_id: str, mentor_id: str, mentee_id: str,
                            at: datetime) -> None:
    existing = await get_pairing(conn, pairing_id)
    if existing is not None and existing.state == "ended":
        return  # an end is final: a late activation never reopens it
    await _write_pairing(conn, pairing_id, existing, {"activated_at": at},
                         mentor_id=mentor_id, mentee_id=mentee_id, state="active")


async def pairing_ended(conn: AsyncConnection, pairing_id: str, mentor_id: str, mentee_id: str,
                        ended_at: datetime) -> datetime:
    """Mark the pairing ended; returns when it ended (the first end reported wins)."""
    existing = await get_pairing(conn, pairing_id)
    if existing is not None:
        ended_at = existing.ended_at or ended_at
    await _write_pairing(conn, pairing_id, existing, {"mentor_id": mentor_id, "mentee_id": mentee_id},
                         state="ended", ended_at=ended_at)
    return ended_at


async def session_scheduled(conn: AsyncConnection, session_id: str, pairing_id: str) -> None:
    if await session_pairing(conn, session_id) is None:
        await conn.execute(sa.insert(pairing_sessions).values(session_id=session_id, pairing_id=pairing_id))
