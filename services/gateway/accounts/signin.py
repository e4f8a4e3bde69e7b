"""Sign-in: password and (where the roles need one) a confirmed TOTP second factor or a recovery code, with
a lockout that grows with each failure; sign-in through an upstream identity provider (federation); logout
everywhere.

Redis keys (this module's): `gw:fails:<key>` and `gw:lock-until:<key>` count failures per account (the key
is a hash, never the address), `gw:totp:<user id>` the last TOTP step used."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy import RowMapping

from services.gateway.accounts.credentials import Passwords, token_hash, totp_step
from services.gateway.accounts.enrolment import factor_state, use_recovery_code
from services.gateway.accounts.tables import users
from services.gateway.accounts.users import (
    MFA_ROLES,
    PRIVILEGED_ROLES,
    TellGrant,
    Users,
    UserState,
    at,
    normalise_email,
    roles_of,
)
from services.gateway.config import Settings
from services.gateway.keys.service import Sealer
from shared.audit import Auditor
from shared.clock import EpochClock
from shared.http import BadRequest, Forbidden, Problem, TooManyRequests, Unauthorized, retry_after, whole_seconds

UNKNOWN_LOGIN = "login:unknown"  # the audit actor of a sign-in attempt that names no account
TOTP_MEMORY_S = 300

# Marks a TOTP step as used only if it is later than the last one used (RFC 6238 §5.2: a code works
# once), atomically, so two requests carrying the same code cannot both pass.
_USE_TOTP_STEP = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class MfaRequired(Unauthorized):
    slug = "mfa-required"


class EnrolmentPending(Unauthorized):
    slug = "mfa-enrolment-pending"


class LoginFailed(Unauthorized):
    slug = "invalid-credentials"


FAILURES = "gw:fails:"  # + key: failures counted
LOCKED_UNTIL = "gw:lock-until:"  # + key: no attempt before this time
TOTP_USED = "gw:totp:"  # + user id: the last TOTP step used


@dataclass(eq=False)
class Lockout:
    """Failures counted per `key`; past `lockout_threshold`, attempts wait twice as long each time."""

    redis: Redis
    settings: Settings
    clock: EpochClock

    async def clear(self, key: str) -> None:
        await self.redis.delete(FAILURES + key, LOCKED_UNTIL + key)

    async def locked_for(self, key: str) -> int:
        """Seconds until `key` may try again (0: now)."""
        until = await self.redis.get(LOCKED_UNTIL + key)
        if until is None:
            return 0
        return whole_seconds(float(until) - self.clock())

    async def count(self, key: str) -> None:
        failures = int(await self.redis.incr(FAILURES + key))
        await self.redis.expire(FAILURES + key, self.settings.lockout_max_s * 4)
        over = failures - self.settings.lockout_threshold
        if over >= 0:
            wait = min(self.settings.lockout_base_s * (2 ** min(over, 20)), self.settings.lockout_max_s)
            await self.redis.set(LOCKED_UNTIL + key, str(self.clock() + wait), ex=wait + 1)


@dataclass(eq=False)
class SignIn:
    users: Users
    audit: Auditor
    passwords: Passwords
    sealer: Sealer
    settings: Settings
    tell_grant: TellGrant  # the other admins (and officers) hear of a privileged role an upstream grants
    lockout: Lockout = field(init=False)

    def __post_init__(self) -> None:
        self.lockout = Lockout(self.users.redis, self.settings, self.users.clock)

    async def check_password(self, email: str, password: str) -> tuple[RowMapping, list[str], str]:
        """The active account's row and roles if the password is right, and the account's lockout key.
        Failures are counted per account and audited."""
        try:
            email = normalise_email(email)
        except BadRequest:
            email = "invalid"
        key = token_hash(f"login:{email}")
        locked = await self.lockout.locked_for(key)
        if locked:
            # Never the address, nor an unkeyed hash of it (a list of candidate addresses would undo that).
            await self.audit(UNKNOWN_LOGIN, "auth.login", "user:unknown", "denied", reason="locked")
            raise TooManyRequests("Too many failed attempts. Try again later.", slug="locked",
                                  headers=retry_after(locked))
        async with self.users.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.email == email))).mappings().first()
            roles = await roles_of(conn, row["id"]) if row else []
        ok = await self.passwords.verify(row["password_hash"] if row else None, password)
        if row is None or not ok or row["status"] != "active":
            await self.lockout.count(key)
            target = f"user:{row['id']}" if row else "user:unknown"
            await self.audit(row["id"] if row else UNKNOWN_LOGIN, "auth.login", target, "failure",
                             reason="suspended" if row is not None and ok else "bad-credentials")
            raise LoginFailed("The e-mail address or password is not correct.")
        return row, roles, key

    async def authenticate(self, email: str, password: str, totp_code: str | None,
                           recovery_code: str | None = None) -> UserState:
        """Check password (and, where the roles need it, a TOTP code of a confirmed authenticator or one of
        the account's recovery codes). Failures are counted per account."""
        row, roles, key = await self.check_password(email, password)
        user_id = row["id"]
        if MFA_ROLES & set(roles):
            factor = factor_state(row, self.users.clock(), self.settings.invitation_lifetime_s)
            if factor == "pending":  # not a second factor yet: the person finishes enrolment instead
                await self.audit(user_id, "auth.mfa", f"user:{user_id}", "denied", reason="enrolment-pending")
                raise EnrolmentPending("Finish setting up your authenticator app first: add the key to the app "
                                       "and enter the 6-digit code it shows.")
            if factor != "confirmed":
                await self.audit(user_id, "auth.mfa", f"user:{user_id}", "denied", reason="not-enrolled")
                raise Problem("A second factor is required for your role but none is set up. "
                              "Ask an admin for a new invitation link.", slug="mfa-not-enrolled")
            if recovery_code:
                method = "recovery-code"
                ok = await use_recovery_code(self.users.engine, user_id, recovery_code, at(self.users.clock))
            elif totp_code:
                method = "totp"
                ok = await self.use_totp(user_id, row["totp_secret"], totp_code)
            else:
                raise MfaRequired("Enter the 6-digit code from your authenticator app.")
            if not ok:
                await self.lockout.count(key)
                await self.audit(user_id, "auth.mfa", f"user:{user_id}", "failure", reason=method)
                raise MfaRequired("The code is not correct. Enter the current 6-digit code."
                                  if method == "totp" else "This recovery code is not correct or was used already.")
            await self.audit(user_id, "auth.mfa", f"user:{user_id}", "success", reason=method)
        await self.lockout.clear(key)
        await self.audit(user_id, "auth.login", f"user:{user_id}", "success")
        state = await self.users.state(user_id)
        assert state is not None  # noqa: S101 - the row exists: we just read it
        return state

    async def use_totp(self, user_id: str, sealed_secret: bytes, code: str) -> bool:
        """Whether `code` is the user's current TOTP code and unused; using it spends it (and every earlier
        step), for sign-in and step-up alike."""
        step = totp_step(self.sealer.open(sealed_secret).decode(), code, self.users.clock())
        if step is None:
            return False
        return bool(await self.users.redis.eval(_USE_TOTP_STEP, 1, TOTP_USED + user_id, str(step), str(TOTP_MEMORY_S)))

    async def federated_user(self, email: str, display_name: str, roles: list[str], *, provision: bool,
                             strong_auth: bool) -> UserState:
        """The active account for an upstream-verified e-mail address; roles follow the upstream's mapped
        roles when it sends any. Unknown people are created only when provisioning is on. Roles that need a
        second factor need `strong_auth` (the upstream says it used one); nothing changes otherwise. An
        upstream claim that adds admin or safeguarding is the operator's configured decision, but it is
        never silent: audited, and told to the other admins (and officers) like an explicit grant."""
        email = normalise_email(email)
        now = at(self.users.clock)
        gained: frozenset[str] = frozenset()
        async with self.users.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.id, users.c.status).where(users.c.email == email))).first()
            effective = roles or (await roles_of(conn, row.id) if row is not None else [])
            if MFA_ROLES & set(effective) and not strong_auth:
                raise Forbidden("Your role needs a second factor; the upstream sign-in did not use one.")
            if row is None:
                if not provision or not roles:
                    raise LoginFailed("There is no Tandem account for this sign-in. Ask an admin for an invitation.")
                user_id = await self.users.add(conn, email=email, display_name=display_name[:200] or "Member",
                                               status="active", roles=roles, now=now)
                gained = PRIVILEGED_ROLES & set(roles)
            else:
                user_id = row.id
                if row.status != "active":
                    raise LoginFailed("The e-mail address or password is not correct.")
                before = await roles_of(conn, user_id)
                if roles and roles != before:
                    gained = PRIVILEGED_ROLES & (set(roles) - set(before))
                    await self.users.replace_roles(conn, user_id, roles)
            for role in sorted(gained):
                await self.tell_grant(conn, user_id, role, "federation", now)
        await self.users.forget(user_id)
        for role in sorted(gained):
            await self.audit("federation", "user.privileged_role_grant", f"user:{user_id}", "success", reason=role)
        state = await self.users.state(user_id)
        assert state is not None  # noqa: S101 - the row exists
        return state

    async def end_everywhere(self, user_id: str) -> None:
        """Logout everywhere: every token issued so far dies."""
        async with self.users.engine.begin() as conn:
            await conn.execute(sa.update(users).where(users.c.id == user_id)
                               .values(tokens_valid_after=at(self.users.clock)))
        await self.users.forget(user_id)
        await self.users.revoke_everything(user_id)
