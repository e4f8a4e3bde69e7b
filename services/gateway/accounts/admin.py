"""What admins change about an account: its ordinary roles, suspension and reactivation, erasure.

A suspension ends everything at once: the cached state first (from then on every request by the user is
refused), then `on_suspend` (live sockets are cut with that cause), then every session and token
(`Users.on_revoke`). Erasure forgets the person (e-mail, name, credentials, and their rows in the tables
`erase_rows_in` names) and asks the other services to erase theirs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from services.gateway.accounts.enrolment import drop_recovery_codes
from services.gateway.accounts.tables import invitations, users
from services.gateway.accounts.users import (
    PRIVILEGED_ROLES,
    Hook,
    PrivilegedInPassing,
    Users,
    at,
    check_roles,
    roles_of,
    status_of,
)
from shared.audit import Auditor
from shared.events.types import UserErasureRequested, UserReactivated, UserSuspended
from shared.http import Conflict, NotFound


@dataclass(eq=False)
class AccountAdmin:
    users: Users
    audit: Auditor
    erase_rows_in: tuple[sa.Table, ...] = ()  # tables with a `user_id` column, outside this feature
    # Told of a suspension before `Users.on_revoke`, so live sockets are cut with that cause.
    on_suspend: list[Hook] = field(default_factory=list, init=False)

    async def set_roles(self, actor: str, user_id: str, roles: list[str]) -> list[str]:
        """Replace the roles (`PUT /admin/users/{id}/roles`). A privileged role already held may stay or go;
        adding one is refused here (`PrivilegedInPassing`): that is the explicit grant's job."""
        roles = check_roles(roles)
        async with self.users.engine.begin() as conn:
            await status_of(conn, user_id)
            before = await roles_of(conn, user_id)
            if before == roles:
                return roles
            added = PRIVILEGED_ROLES & (set(roles) - set(before))
            if added:
                await self.audit(actor, "user.roles_change", f"user:{user_id}", "denied",
                                 reason="privileged-role-in-passing")
                raise PrivilegedInPassing(added)
            await self.users.replace_roles(conn, user_id, roles)
            await conn.execute(sa.update(users).where(users.c.id == user_id).values(updated_at=at(self.users.clock)))
        await self.users.forget(user_id)
        await self.audit(actor, "user.roles_change", f"user:{user_id}", "success", reason=",".join(roles))
        return roles

    async def suspend(self, actor: str, user_id: str) -> None:
        now = at(self.users.clock)
        async with self.users.engine.begin() as conn:
            if await status_of(conn, user_id, erased="This account has been erased.") != "suspended":
                await conn.execute(sa.update(users).where(users.c.id == user_id)
                                   .values(status="suspended", tokens_valid_after=now, updated_at=now))
                await self.users.outbox.add(conn, UserSuspended(user_id=user_id), subject=f"user:{user_id}")
        # Cache first: from here on every request by this user is refused, then the sessions go.
        await self.users.forget(user_id)
        for announce in self.on_suspend:
            await announce(user_id)
        await self.users.revoke_everything(user_id)
        await self.audit(actor, "user.suspend", f"user:{user_id}", "success")

    async def reactivate(self, actor: str, user_id: str) -> None:
        now = at(self.users.clock)
        async with self.users.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.status, users.c.password_hash)
                                      .where(users.c.id == user_id))).first()
            if row is None:
                raise NotFound("No such user.")
            if row.status != "suspended":
                raise Conflict("The account is not suspended.", slug="not-suspended")
            await conn.execute(sa.update(users).where(users.c.id == user_id).values(
                status="active" if row.password_hash else "invited", updated_at=now))
            await self.users.outbox.add(conn, UserReactivated(user_id=user_id), subject=f"user:{user_id}")
        await self.users.forget(user_id)
        await self.audit(actor, "user.reactivate", f"user:{user_id}", "success")

    async def request_erasure(self, actor: str, user_id: str) -> str:
        """Right to erasure: the gateway forgets the person (e-mail, name, credentials, notices) at once,
        keeps only the id, and asks the other services to erase theirs (`user.erasure_requested`)."""
        now = at(self.users.clock)
        request_id = uuid.uuid4().hex
        async with self.users.engine.begin() as conn:
            status = await status_of(conn, user_id)
            if status == "erased":
                raise Conflict("This account has been erased already.", slug="already-erased")
            await conn.execute(sa.update(users).where(users.c.id == user_id).values(
                status="erased", email=f"erased-{user_id}@erased.invalid", display_name="Erased user",
                password_hash=None, totp_secret=None, totp_status=None, totp_issued_at=None, time_zone=None,
                language=None, tokens_valid_after=now, updated_at=now))
            await drop_recovery_codes(conn, user_id)
            await conn.execute(sa.update(invitations).where(invitations.c.user_id == user_id,
                                                            invitations.c.used_at.is_(None)).values(used_at=now))
            for table in self.erase_rows_in:
                await conn.execute(sa.delete(table).where(table.c.user_id == user_id))
            if status != "suspended":  # live sessions elsewhere end on this event
                await self.users.outbox.add(conn, UserSuspended(user_id=user_id), subject=f"user:{user_id}")
            await self.users.outbox.add(conn, UserErasureRequested(user_id=user_id, request_id=request_id),
                                        subject=f"user:{user_id}")
        await self.users.forget(user_id)
        await self.users.revoke_everything(user_id)
        await self.audit(actor, "user.erasure_request", f"user:{user_id}", "success", reason=request_id)
        return request_id
