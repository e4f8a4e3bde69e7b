"""Local projection of the gateway's users (group "sessions" on `tandem.user`): roles, vetting,
agreements and suspension, which decide who may be matched and who may join a room."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.db import inbox
from services.sessions.users.tables import users
from shared.clock import utcnow
from shared.db import claim_event
from shared.events import Envelope, Event
from shared.events import types as t
from shared.logging import get_logger

log = get_logger("tandem.sessions.users")
CONSUMER = "sessions.users"


@dataclass(frozen=True)
class UserFacts:
    user_id: str
    roles: frozenset[str]
    vetted: bool
    agreements_accepted: bool
    suspended: bool


async def get_user(conn: AsyncConnection, user_id: str) -> UserFacts | None:
    row = (await conn.execute(sa.select(users).where(users.c.user_id == user_id))).first()
    if row is None:
        return None
    return UserFacts(row.user_id, frozenset(r for r in row.roles.split(",") if r), row.vetted,
                     row.agreements_accepted, row.suspended)


async def _upsert(conn: AsyncConnection, user_id: str, **values: Any) -> None:
    values["updated_at"] = utcnow()
    done = await conn.execute(sa.update(users).where(users.c.user_id == user_id).values(**values))
    if not done.rowcount:
        await conn.execute(sa.insert(users).values(user_id=user_id, **values))


def _changes(payload: Event) -> tuple[str, dict[str, Any]] | None:
    match payload:
        case t.UserCreated(user_id=uid, roles=roles) | t.UserRolesChanged(user_id=uid, roles=roles):
            return uid, {"roles": ",".join(sorted(set(roles)))}
        case t.UserVettingChanged(user_id=uid, vetted=vetted):
            return uid, {"vetted": vetted}
        case t.UserAgreementsChanged(user_id=uid, accepted_current=accepted):
            return uid, {"agreements_accepted": accepted}
        case t.UserSuspended(user_id=uid):
            return uid, {"suspended": True}
        case t.UserReactivated(user_id=uid):
            return uid, {"suspended": False}
    return None


async def apply_user_event(conn: AsyncConnection, envelope: Envelope) -> str | None:
    """Apply one event exactly once inside `conn`'s transaction; returns the suspended user id, if any."""
    try:
        payload: Event = envelope.payload()
    except LookupError:
        return None
    change = _changes(payload)
    if change is None or not await claim_event(conn, inbox, CONSUMER, envelope.id):
        return None
    user_id, values = change
    await _upsert(conn, user_id, **values)
    log.info("users.projected", event_type=envelope.type, user_id=user_id)
    return user_id if isinstance(payload, t.UserSuspended) else None


def handler(engine: Any, on_suspended: Callable[[str], Awaitable[None]]) -> Callable[[Envelope], Awaitable[None]]:
    async def handle(envelope: Envelope) -> None:
        async with engine.begin() as conn:
            suspended = await apply_user_event(conn, envelope)
        if suspended:
            await on_suspended(suspended)

    return handle
