"""Granting admin or safeguarding: a step of its own, never a side effect of an invitation or a role update.

The invitation form once handed out roles by accident (a pre-ticked box, boxes left ticked for the next
person): an admin became able to read safeguarding reports because of a checkbox. So the ordinary paths
refuse these roles (`PrivilegedInPassing`) and this one grants exactly one role to one person, with:

- an explicit confirmation and the granting admin's current authenticator code (step-up: a stolen session
  cookie alone cannot make anyone an admin; guesses count towards a lockout like sign-in failures);
- no self-grant (an admin cannot make themselves a safeguarding officer);
- the change, its `user.roles_changed` event and a notice to every other admin (and, for safeguarding, to
  every other officer) in one transaction, and an audit entry (`user.privileged_role_grant`);
- the person's current sessions and tokens ended, so the role is only ever used after a sign-in with a
  second factor (someone active without one gets `needs_new_link`: a new set-password link enrols it).

An invitation carries a privileged role the same way: invite without a role, grant it here, then send the
link; the second factor is enrolled when the link is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from services.gateway.accounts.credentials import token_hash
from services.gateway.accounts.enrolment import factor_state
from services.gateway.accounts.signin import SignIn
from services.gateway.accounts.tables import user_roles, users
from services.gateway.accounts.users import PRIVILEGED_ROLES, TellGrant, Users, at, roles_of
from shared.audit import Auditor
from shared.events.types import UserRolesChanged
from shared.http import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, retry_after

GRANT_ACTION = "user.privileged_role_grant"  # audit action


class ReauthenticationFailed(Forbidden):
    slug = "reauthentication-failed"


@dataclass(frozen=True)
class Grant:
    user_id: str
    role: str
    roles: list[str]
    granted: bool  # False: the person held the role already (nothing changed, nobody told again)
    # active without a second factor (nor one pending to finish): they must enrol one (new set-password link)
    needs_new_link: bool


@dataclass(eq=False)
class PrivilegedRoles:
    users: Users
    signin: SignIn
    audit: Auditor
    tell_grant: TellGrant

    async def _step_up(self, actor: str, user_id: str, totp_code: str) -> None:
        """The granting admin proves presence with a fresh authenticator code (each code works once)."""
        key = token_hash(f"reauth:{actor}")
        lockout = self.signin.lockout
        locked = await lockout.locked_for(key)
        if locked:
            await self.audit(actor, GRANT_ACTION, f"user:{user_id}", "denied", reason="locked")
            raise TooManyRequests("Too many wrong authenticator codes. Try again later.", slug="locked",
                                  headers=retry_after(locked))
        async with self.users.engine.connect() as conn:
            mine = (await conn.execute(sa.select(users.c.totp_secret, users.c.totp_status)
                                       .where(users.c.id == actor))).first()
        sealed = mine.totp_secret if mine is not None and mine.totp_status == "confirmed" else None
        if sealed is None:
            await self.audit(actor, GRANT_ACTION, f"user:{user_id}", "denied", reason="no-second-factor")
            raise Forbidden("Granting this role needs your authenticator code, and you have no authenticator set up "
                            "here. Ask another admin for a new set-password link to set one up.",
                            slug="reauthentication-unavailable")
        if not await self.signin.use_totp(actor, sealed, totp_code):
            await lockout.count(key)
            await self.audit(actor, GRANT_ACTION, f"user:{user_id}", "failure", reason="reauthentication")
            raise ReauthenticationFailed("The authenticator code is not correct or was used already. Enter the "
                                         "current 6-digit code from your authenticator app.")
        await lockout.clear(key)

    async def grant(self, actor: str, user_id: str, role: str, *, confirm: bool, totp_code: str) -> Grant:
        if role not in PRIVILEGED_ROLES:
            raise BadRequest("Only admin and safeguarding are granted here; change other roles with "
                             "PUT /admin/users/{user_id}/roles.", slug="not-a-privileged-role")
        if not confirm:
            raise BadRequest("Confirm the grant: set `confirm` to true once you have checked who gets which role.",
                             slug="confirmation-required")
        if actor == user_id:
            await self.audit(actor, GRANT_ACTION, f"user:{user_id}", "denied", reason="self-grant")
            raise Forbidden("You cannot grant yourself a role: ask another admin.", slug="self-grant")
        await self._step_up(actor, user_id, totp_code)

        now = at(self.users.clock)
        async with self.users.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.status, users.c.totp_secret, users.c.totp_status,
                                                users.c.totp_issued_at).where(users.c.id == user_id))
                   ).mappings().first()
            if row is None:
                raise NotFound("No such user.")
            if row["status"] in ("erased", "suspended"):
                await self.audit(actor, GRANT_ACTION, f"user:{user_id}", "denied", reason=row["status"])
                raise Conflict(f"This account is {row['status']}: it cannot be given a role.", slug=row["status"])
            before = await roles_of(conn, user_id)
            if role in before:
                granted, after = False, before
            else:
                granted, after = True, sorted({*before, role})
                await conn.execute(sa.insert(user_roles).values(user_id=user_id, role=role))
                values: dict[str, object] = {"updated_at": now}
                if row["status"] == "active":
                    values["tokens_valid_after"] = now  # the role is used only after a sign-in with a second factor
                await conn.execute(sa.update(users).where(users.c.id == user_id).values(**values))
                await self.users.outbox.add(conn, UserRolesChanged(user_id=user_id, roles=after),
                                            subject=f"user:{user_id}")
                await self.tell_grant(conn, user_id, role, actor, now)
        if granted:
            await self.users.forget(user_id)
            if row["status"] == "active":
                await self.users.revoke_everything(user_id)
        await self.audit(actor, GRANT_ACTION, f"user:{user_id}", "success",
                         reason=role if granted else f"{role}:already-held")
        return Grant(user_id=user_id, role=role, roles=after, granted=granted,
                     needs_new_link=granted and row["status"] == "active" and factor_state(
                         row, self.users.clock(), self.signin.settings.invitation_lifetime_s) in ("none", "expired"))
