"""Who a caller may name, and their display names (no e-mail, roles or status: names only)."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.accounts.tables import user_roles, users
from services.gateway.inbox.tables import pairing_members

# Roles that may look up any user's display name (they already see every account or case).
STAFF_ROLES = ("admin", "safeguarding")


async def partner_ids(engine: AsyncEngine, user_id: str) -> set[str]:
    """Everyone the user is or was paired with (proposed, active, declined or ended)."""
    pm = pairing_members
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(pm.c.mentor_id, pm.c.mentee_id)
            .where(sa.or_(pm.c.mentor_id == user_id, pm.c.mentee_id == user_id)))
        return {other for r in rows for other in (r.mentor_id, r.mentee_id) if other != user_id}


async def names(engine: AsyncEngine, ids: Collection[str]) -> list[tuple[str, str]]:
    """(id, display name) of the given users that exist, ordered by name."""
    if not ids:
        return []
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(users.c.id, users.c.display_name).where(users.c.id.in_(list(ids)))
                                  .order_by(users.c.display_name, users.c.id))
        return [(r.id, r.display_name) for r in rows]


async def offered_mentors(engine: AsyncEngine, wanted: Collection[str]) -> set[str]:
    """Of `wanted`, the programme's active, vetted mentors: their biographies are published to the
    programme's mentees (who choose among them), so a mentee may know their names."""
    ur = user_roles
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(users.c.id).join(ur, ur.c.user_id == users.c.id).where(
            users.c.id.in_(list(wanted)), ur.c.role == "mentor", users.c.vetted.is_(True),
            users.c.status == "active"))
        return {r.id for r in rows}


async def visible_people(engine: AsyncEngine, user_id: str, roles: Collection[str],
                         wanted: Collection[str] | None) -> list[tuple[str, str]]:
    """Names the caller may know: `wanted` ids (staff: any; a mentee: partners and the programme's
    offered mentors; others: partners only), or without `wanted`, the caller's partners. Ids the caller
    may not know are left out, exactly like unknown ids."""
    staff = any(r in STAFF_ROLES for r in roles)
    if wanted is not None and staff:
        return await names(engine, set(wanted))
    partners = await partner_ids(engine, user_id)
    if wanted is None:
        return await names(engine, partners)
    known = partners & set(wanted)
    if "mentee" in roles:
        known |= await offered_mentors(engine, set(wanted) - known)
    return await names(engine, known)
