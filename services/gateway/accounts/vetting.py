"""Mentor vetting: a checklist of items an admin records as pending, passed or failed (who and when are
kept). A mentor is vetted when every item has passed; the other services hear of each change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.gateway.accounts.tables import user_roles, users, vetting_checks
from shared.audit import Auditor
from shared.clock import EpochClock, aware
from shared.events.types import UserVettingChanged
from shared.http import BadRequest, Conflict, NotFound
from shared.outbox import Outbox

VETTING_ITEMS = ("professional_verification", "references", "interview", "background_check")
VETTING_STATUSES = frozenset({"pending", "passed", "failed"})


async def checklist(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    """Every vetting item of the user, recorded or still pending."""
    rows = (await conn.execute(sa.select(vetting_checks).where(vetting_checks.c.user_id == user_id))).mappings()
    recorded = {r["item"]: r for r in rows}
    out = []
    for item in VETTING_ITEMS:
        r = recorded.get(item)
        out.append({"item": item, "status": r["status"] if r else "pending",
                    "recorded_by": r["recorded_by"] if r else None,
                    "recorded_at": aware(r["recorded_at"]).isoformat() if r else None})
    return out


class MentorVetting:
    def __init__(self, engine: AsyncEngine, outbox: Outbox, audit: Auditor, clock: EpochClock) -> None:
        self.engine = engine
        self.outbox = outbox
        self.audit = audit
        self.clock = clock

    async def record(self, actor: str, user_id: str, item: str, status: str) -> dict[str, Any]:
        if item not in VETTING_ITEMS:
            raise NotFound("No such vetting item.")
        if status not in VETTING_STATUSES:
            raise BadRequest("Status must be pending, passed or failed.", slug="invalid-status")
        now = datetime.fromtimestamp(self.clock(), UTC)
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.vetted).where(users.c.id == user_id))).first()
            if row is None:
                raise NotFound("No such user.")
            mentor = (await conn.execute(sa.select(user_roles.c.role).where(
                user_roles.c.user_id == user_id, user_roles.c.role == "mentor"))).first()
            if mentor is None:
                raise Conflict("Vetting applies to mentors only.", slug="not-a-mentor")
            await conn.execute(sa.delete(vetting_checks).where(vetting_checks.c.user_id == user_id,
                                                               vetting_checks.c.item == item))
            await conn.execute(sa.insert(vetting_checks).values(user_id=user_id, item=item, status=status,
                                                                recorded_by=actor, recorded_at=now))
            checks = await checklist(conn, user_id)
            vetted = all(c["status"] == "passed" for c in checks)
            if vetted != row.vetted:
                await conn.execute(sa.update(users).where(users.c.id == user_id).values(vetted=vetted, updated_at=now))
                await self.outbox.add(conn, UserVettingChanged(user_id=user_id, vetted=vetted),
                                      subject=f"user:{user_id}")
        await self.audit(actor, "user.vetting_change", f"user:{user_id}", "success", reason=f"{item}={status}")
        return {"user_id": user_id, "vetted": vetted, "checks": checks}
