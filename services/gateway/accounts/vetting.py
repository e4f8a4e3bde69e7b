"""Mentor vetting: a checklist of items an admin records as pending, passed or failed (who and when are
kept). A mentor is vetted when every item has passed; the other services hear of each change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from services.gateway.accounts.tables import users, vetting_checks
from services.gateway.accounts.users import VETTING_ITEMS, Users, at, checklist, roles_of
from shared.audit import Auditor
from shared.events.types import UserVettingChanged
from shared.http import BadRequest, Conflict, NotFound

VETTING_STATUSES = frozenset({"pending", "passed", "failed"})


@dataclass(eq=False)
class MentorVetting:
    """Records the checks; `Users.get_user` shows the checklist."""

    users: Users
    audit: Auditor

    async def record(self, actor: str, user_id: str, item: str, status: str) -> dict[str, Any]:
        if item not in VETTING_ITEMS:
            raise NotFound("No such vetting item.")
        if status not in VETTING_STATUSES:
            raise BadRequest("Status must be pending, passed or failed.", slug="invalid-status")
        now = at(self.users.clock)
        async with self.users.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.vetted).where(users.c.id == user_id))).first()
            if row is None:
                raise NotFound("No such user.")
            if "mentor" not in await roles_of(conn, user_id):
                raise Conflict("Vetting applies to mentors only.", slug="not-a-mentor")
            await conn.execute(sa.delete(vetting_checks).where(vetting_checks.c.user_id == user_id,
                                                               vetting_checks.c.item == item))
            await conn.execute(sa.insert(vetting_checks).values(user_id=user_id, item=item, status=status,
                                                                recorded_by=actor, recorded_at=now))
            checks = await checklist(conn, user_id)
            vetted = all(c["status"] == "passed" for c in checks)
            if vetted != row.vetted:
                await conn.execute(sa.update(users).where(users.c.id == user_id).values(vetted=vetted, updated_at=now))
                await self.users.outbox.add(conn, UserVettingChanged(user_id=user_id, vetted=vetted),
                                            subject=f"user:{user_id}")
        await self.audit(actor, "user.vetting_change", f"user:{user_id}", "success", reason=f"{item}={status}")
        return {"user_id": user_id, "vetted": vetted, "checks": checks}
