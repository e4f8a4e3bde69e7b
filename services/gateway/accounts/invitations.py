"""Invitations: a new account gets a one-time set-password link; using it sets the password (and starts
enrolling a second factor where the roles need one: a pending key, see enrolment.py). A new link is also
the credential reset: once accepted, the new password and second factor replace the old ones (recovery
codes included) and every session and token of the user ends."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.gateway.accounts.credentials import Passwords, new_totp_secret, password_problem, token_hash
from services.gateway.accounts.enrolment import Enrolment, drop_recovery_codes, enrolment
from services.gateway.accounts.tables import invitations, users
from services.gateway.accounts.users import (
    MFA_ROLES,
    PRIVILEGED_ROLES,
    PrivilegedInPassing,
    Users,
    at,
    check_roles,
    epoch,
    normalise_email,
    roles_of,
    status_of,
)
from services.gateway.config import Settings
from services.gateway.keys.service import Sealer
from shared.audit import Auditor
from shared.http import BadRequest, Conflict, Problem


@dataclass(eq=False)
class Invitations:
    users: Users
    audit: Auditor
    passwords: Passwords
    sealer: Sealer
    settings: Settings

    async def invite(self, actor: str, email: str, display_name: str, roles: list[str]) -> tuple[str, str, float]:
        """An admin's invitation (`POST /admin/users`): ordinary roles only, possibly none yet (a new admin
        or safeguarding officer is invited without one and granted it explicitly before using the link)."""
        roles = check_roles(roles, allow_empty=True)
        if PRIVILEGED_ROLES & set(roles):
            await self.audit(actor, "user.create", "user:new", "denied", reason="privileged-role-in-passing")
            raise PrivilegedInPassing(PRIVILEGED_ROLES & set(roles))
        return await self.create_user(actor, email, display_name, roles, allow_no_role=True)

    async def create_user(self, actor: str, email: str, display_name: str, roles: list[str], *,
                          allow_no_role: bool = False) -> tuple[str, str, float]:
        """A new account with a one-time set-password invitation: (user_id, token, expires_at). Trusted
        callers only (the operator's bootstrap CLI); admins go through `invite`."""
        email = normalise_email(email)
        roles = check_roles(roles, allow_empty=allow_no_role)
        display_name = display_name.strip()
        if not 1 <= len(display_name) <= 200:
            raise BadRequest("Enter a display name (1-200 characters).", slug="invalid-name")
        try:
            async with self.users.engine.begin() as conn:
                user_id = await self.users.add(conn, email=email, display_name=display_name, status="invited",
                                               roles=roles, now=at(self.users.clock))
                token, expires = await self._new_link(conn, actor, user_id)
        except IntegrityError:
            raise Conflict("An account with this e-mail address exists.", slug="email-taken") from None
        await self.audit(actor, "user.create", f"user:{user_id}", "success")
        return user_id, token, expires

    async def _new_link(self, conn: AsyncConnection, actor: str, user_id: str) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        now = self.users.clock()
        expires = now + self.settings.invitation_lifetime_s
        # Older invitations die: only the newest link works.
        await conn.execute(sa.update(invitations).where(invitations.c.user_id == user_id,
                                                        invitations.c.used_at.is_(None))
                           .values(used_at=datetime.fromtimestamp(now, UTC)))
        await conn.execute(sa.insert(invitations).values(
            token_hash=token_hash(token), user_id=user_id, created_by=actor,
            created_at=datetime.fromtimestamp(now, UTC), expires_at=datetime.fromtimestamp(expires, UTC)))
        return token, expires

    async def reissue(self, actor: str, user_id: str) -> tuple[str, float]:
        """A fresh set-password link; older links die."""
        async with self.users.engine.begin() as conn:
            await status_of(conn, user_id, erased="This account has been erased.")
            token, expires = await self._new_link(conn, actor, user_id)
        await self.audit(actor, "user.invitation_issue", f"user:{user_id}", "success")
        return token, expires

    async def accept(self, token: str, password: str) -> tuple[str, str, Enrolment | None]:
        """Set the password; returns (user_id, e-mail address, the new pending authenticator key if the roles
        require a second factor). The key is a second factor only once confirmed with a code from the app
        (second_factor.py); every earlier key and recovery code of the account is gone."""
        problem = password_problem(password)
        if problem:
            raise BadRequest(problem, slug="weak-password")
        pw_hash = await self.passwords.hash(password)
        now = at(self.users.clock)
        async with self.users.engine.begin() as conn:
            inv = (await conn.execute(sa.select(invitations).where(invitations.c.token_hash == token_hash(token))
                                      .with_for_update())).mappings().first()
            if inv is None or inv["used_at"] is not None or epoch(inv["expires_at"]) < self.users.clock():
                raise Problem("This invitation link is invalid or has expired. Ask an admin for a new one.",
                              slug="invitation-invalid")
            claimed = await conn.execute(sa.update(invitations).where(invitations.c.token_hash == inv["token_hash"],
                                                                      invitations.c.used_at.is_(None))
                                         .values(used_at=now))
            if claimed.rowcount != 1:
                raise Problem("This invitation link is invalid or has expired.", slug="invitation-invalid")
            user_id = inv["user_id"]
            row = (await conn.execute(sa.select(users.c.status, users.c.email).where(users.c.id == user_id))).one()
            if row.status == "suspended":
                raise Problem("This invitation link is invalid or has expired.", slug="invitation-invalid")
            roles = await roles_of(conn, user_id)
            pending = None
            values: dict[str, Any] = {"password_hash": pw_hash, "status": "active", "updated_at": now,
                                      "totp_secret": None, "totp_status": None, "totp_issued_at": None,
                                      "tokens_valid_after": now}
            if MFA_ROLES & set(roles):
                secret = new_totp_secret()
                values.update(totp_secret=self.sealer.seal(secret.encode()), totp_status="pending",
                              totp_issued_at=now)
                pending = enrolment(secret, row.email, self.settings.totp_issuer,
                                    now.timestamp() + self.settings.invitation_lifetime_s)
            await conn.execute(sa.update(users).where(users.c.id == user_id).values(**values))
            await drop_recovery_codes(conn, user_id)
        await self.users.revoke_everything(user_id)
        await self.users.forget(user_id)
        await self.audit(user_id, "user.invitation_accept", f"user:{user_id}", "success")
        return user_id, row.email, pending
