"""Profiles: each member keeps their own; mentees browse the biographies of the mentors they could
choose (vetted, not suspended, the agreements accepted, a profile written)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.pairings.service import OPEN_STATES
from services.sessions.pairings.tables import pairings
from services.sessions.profiles.schemas import MentorCard, ProfileIn, ProfileOut
from services.sessions.profiles.tables import profiles
from services.sessions.users.tables import users
from shared.clock import utcnow
from shared.events.types import AuditEntry
from shared.http import NotFound, ServiceUnavailable, Unprocessable
from shared.identity import ActsForCaller
from shared.service import Runtime


def _labels(values: Iterable[str]) -> list[str]:
    """Trimmed, without duplicates (case-insensitive), in the order given."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        label = value.strip()
        if label and label.casefold() not in seen:
            seen.add(label.casefold())
            out.append(label)
    return out


def to_out(row: Any) -> ProfileOut:
    return ProfileOut(user_id=row.user_id, bio=row.bio, areas=json.loads(row.areas),
                      languages=json.loads(row.languages), capacity=row.capacity, updated_at=row.updated_at)


def available_mentors() -> sa.Select[Any]:
    """Mentors who can be chosen or matched now, with their profiles."""
    return (sa.select(profiles, users.c.roles)
            .join(users, users.c.user_id == profiles.c.user_id)
            .where(users.c.vetted.is_(True), users.c.suspended.is_(False),
                   users.c.agreements_accepted.is_(True), profiles.c.capacity.is_not(None))
            .order_by(profiles.c.user_id))


async def places_taken(conn: AsyncConnection) -> dict[str, int]:
    """Each mentor's open pairings (proposed or active): the places they fill."""
    rows = await conn.execute(sa.select(pairings.c.mentor_id, sa.func.count()).where(
        pairings.c.state.in_(OPEN_STATES)).group_by(pairings.c.mentor_id))
    return {mentor: int(n) for mentor, n in rows.all()}


def is_mentor(row: Any) -> bool:
    return "mentor" in row.roles.split(",")


@dataclass(frozen=True)
class Profiles(ActsForCaller):
    runtime: Runtime

    async def mine(self) -> ProfileOut:
        async with self.runtime.engine.connect() as conn:
            row = (await conn.execute(sa.select(profiles).where(profiles.c.user_id == self.me.sub))).first()
        if row is None:
            return ProfileOut(user_id=self.me.sub, bio="", areas=[], languages=[], capacity=None, updated_at=None)
        return to_out(row)

    async def save_mine(self, data: ProfileIn) -> ProfileOut:
        if self.me.has("mentor") and data.capacity is None:
            raise Unprocessable("A mentor's profile says how many mentees they can take at once (capacity).",
                                slug="capacity-required")
        if not self.me.has("mentor") and data.capacity is not None:
            raise Unprocessable("Only mentors have a capacity.", slug="capacity-not-allowed")
        values = {"bio": data.bio.strip(), "areas": json.dumps(_labels(data.areas)),
                  "languages": json.dumps(_labels(data.languages)), "capacity": data.capacity,
                  "updated_at": utcnow()}
        outbox = self.runtime.outbox
        if outbox is None:  # pragma: no cover - create_app always configures it
            raise ServiceUnavailable()
        async with self.runtime.engine.begin() as conn:
            done = await conn.execute(sa.update(profiles).where(profiles.c.user_id == self.me.sub).values(**values))
            if not done.rowcount:
                await conn.execute(sa.insert(profiles).values(user_id=self.me.sub, **values))
            target = f"profile:{self.me.sub}"
            await outbox.add(conn, AuditEntry(actor=self.me.sub, action="profile.save", target=target,
                                              outcome="success"), subject=target)
        return await self.mine()

    async def mentors(self) -> list[MentorCard]:
        async with self.runtime.engine.connect() as conn:
            rows = [r for r in (await conn.execute(available_mentors())).all() if is_mentor(r)]
            taken = await places_taken(conn)
        return [MentorCard(user_id=r.user_id, bio=r.bio, areas=json.loads(r.areas), languages=json.loads(r.languages),
                           has_room=taken.get(r.user_id, 0) < r.capacity) for r in rows]

    async def of(self, user_id: str) -> ProfileOut:
        """Any member's profile, for admins who match."""
        async with self.runtime.engine.connect() as conn:
            row = (await conn.execute(sa.select(profiles).where(profiles.c.user_id == user_id))).first()
        if row is None:
            raise NotFound("No profile for this member.")
        return to_out(row)
