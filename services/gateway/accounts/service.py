"""Accounts: users and roles, invitations, sign-in with lockout and TOTP, suspension, mentor vetting,
programme agreements. Every change commits with its bus event (outbox) and is audited."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.gateway.accounts.credentials import (
    Passwords,
    new_totp_secret,
    password_problem,
    token_hash,
    totp_step,
    totp_uri,
)
from services.gateway.accounts.tables import (
    agreement_acceptances,
    agreements,
    invitations,
    user_roles,
    users,
    vetting_checks,
)
from services.gateway.config import Settings
from services.gateway.keys.service import Clock, Sealer
from shared.events.types import (
    UserAgreementsChanged,
    UserCreated,
    UserErasureRequested,
    UserReactivated,
    UserRolesChanged,
    UserSuspended,
    UserVettingChanged,
)
from shared.http import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger("tandem.gateway.accounts")

USER_ROLES = frozenset({"mentee", "mentor", "admin", "safeguarding", "operator"})
MFA_ROLES = frozenset({"admin", "safeguarding"})
# Granted only as their own step (POST GRANT_PATH, with the granting admin's authenticator code), never
# along with an invitation or a role update: a ticked box must not make someone an admin or an officer.
PRIVILEGED_ROLES = MFA_ROLES
GRANT_PATH = "/admin/users/{user_id}/privileged-roles"
VETTING_ITEMS = ("professional_verification", "references", "interview", "background_check")
VETTING_STATUSES = frozenset({"pending", "passed", "failed"})
AGREEMENT_KINDS = ("code_of_practice", "confidentiality")
Audit = Callable[..., Awaitable[str]]
UNKNOWN_LOGIN = "login:unknown"  # the audit actor of a sign-in attempt that names no account


class MfaRequired(Unauthorized):
    slug = "mfa-required"


class LoginFailed(Unauthorized):
    slug = "invalid-credentials"


class PrivilegedInPassing(Unprocessable):
    slug = "privileged-role-needs-explicit-grant"

    def __init__(self, roles: Collection[str]) -> None:
        names = " and ".join(sorted(roles))
        super().__init__(f"The {names} role{'s are' if len(roles) > 1 else ' is'} not granted with an invitation "
                         f"or a role update. Grant it as its own step: POST {GRANT_PATH} with the role, a "
                         "confirmation and your authenticator code (on the person's page in the web app).",
                         extra={"privileged_roles": sorted(roles), "grant_endpoint": GRANT_PATH})


@dataclass(frozen=True)
class UserState:
    """What every authenticated request needs, cached in Redis (invalidated on every change)."""

    user_id: str
    roles: tuple[str, ...]
    status: str
    valid_after: float  # tokens issued before this are dead

    @property
    def active(self) -> bool:
        return self.status == "active"


def _now_dt(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


def _ts(value: datetime | None) -> float:
    if value is None:
        return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not (3 <= len(email) <= 320) or email.count("@") != 1 or " " in email or email.startswith("@") \
            or email.endswith("@"):
        raise BadRequest("Enter a valid e-mail address.", slug="invalid-email")
    return email


def check_roles(roles: list[str], *, allow_empty: bool = False) -> list[str]:
    unknown = set(roles) - USER_ROLES
    if unknown:
        raise BadRequest(f"Unknown roles: {', '.join(sorted(unknown))}.", slug="invalid-role")
    if not roles and not allow_empty:
        raise BadRequest("A user needs at least one role.", slug="invalid-role")
    return sorted(set(roles))


# Marks a TOTP step as used only if it is later than the last one used (RFC 6238 §5.2: a code works
# once), atomically, so two requests carrying the same code cannot both pass.
_USE_TOTP_STEP = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class Accounts:
    def __init__(self, engine: AsyncEngine, redis: Redis, outbox: Outbox, audit: Audit, passwords: Passwords,
                 sealer: Sealer, settings: Settings, clock: Clock) -> None:
        self.engine = engine
        self.redis = redis
        self.outbox = outbox
        self.audit = audit
        self.passwords = passwords
        self.sealer = sealer
        self.settings = settings
        self.clock = clock
        self.on_revoke: list[Callable[[str], Awaitable[Any]]] = []  # browser sessions, refresh tokens
        # Told of a suspension before `on_revoke`, so live sockets are cut with that cause (sessions ledgers it).
        self.on_suspend: list[Callable[[str], Awaitable[Any]]] = []
        self.on_change: list[Callable[[str], Awaitable[Any]]] = []  # roles, status: the proxy forgets sign-ins

    # -- cached state ------------------------------------------------------------------------------

    async def state(self, user_id: str) -> UserState | None:
        raw = await self.redis.get(f"gw:u:{user_id}")
        if raw is not None:
            data = json.loads(raw)
            if data is None:
                return None
            return UserState(user_id, tuple(data["roles"]), data["status"], data["valid_after"])
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users.c.status, users.c.tokens_valid_after)
                                      .where(users.c.id == user_id))).first()
            roles = await self._roles(conn, user_id) if row else []
        if row is None:
            await self.redis.set(f"gw:u:{user_id}", "null", ex=60)
            return None
        state = UserState(user_id, tuple(roles), row.status, _ts(row.tokens_valid_after))
        await self.redis.set(f"gw:u:{user_id}", json.dumps(
            {"roles": list(state.roles), "status": state.status, "valid_after": state.valid_after}), ex=300)
        return state

    async def forget(self, user_id: str) -> None:
        await self.redis.delete(f"gw:u:{user_id}")
        for changed in self.on_change:
            await changed(user_id)

    @staticmethod
    async def _roles(conn: AsyncConnection, user_id: str) -> list[str]:
        rows = await conn.execute(sa.select(user_roles.c.role).where(user_roles.c.user_id == user_id))
        return sorted(r.role for r in rows)

    # -- users and invitations ---------------------------------------------------------------------

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
        user_id = uuid.uuid4().hex
        now = _now_dt(self.clock)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(sa.insert(users).values(
                    id=user_id, email=email, display_name=display_name, status="invited", vetted=False,
                    agreements_current=not await self._current_agreement_ids(conn), created_at=now, updated_at=now))
                if roles:
                    await conn.execute(sa.insert(user_roles), [{"user_id": user_id, "role": r} for r in roles])
                token, expires = await self._new_invitation(conn, actor, user_id)
                await self.outbox.add(conn, UserCreated(user_id=user_id, roles=roles), subject=f"user:{user_id}")
        except IntegrityError:
            raise Conflict("An account with this e-mail address exists.", slug="email-taken") from None
        await self.audit(actor, "user.create", f"user:{user_id}", "success")
        return user_id, token, expires

    async def _new_invitation(self, conn: AsyncConnection, actor: str, user_id: str) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.settings.invitation_lifetime_s
        # Older invitations die: only the newest link works.
        await conn.execute(sa.update(invitations).where(invitations.c.user_id == user_id,
                                                        invitations.c.used_at.is_(None))
                           .values(used_at=datetime.fromtimestamp(now, UTC)))
        await conn.execute(sa.insert(invitations).values(
            token_hash=token_hash(token), user_id=user_id, created_by=actor,
            created_at=datetime.fromtimestamp(now, UTC), expires_at=datetime.fromtimestamp(expires, UTC)))
        return token, expires

    async def reissue_invitation(self, actor: str, user_id: str) -> tuple[str, float]:
        """A fresh set-password link; older links die. Also the credential reset: once it is accepted the new
        password and second factor replace the old ones and every session and token of the user ends."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.status).where(users.c.id == user_id))).first()
            if row is None:
                raise NotFound("No such user.")
            if row.status == "erased":
                raise Conflict("This account has been erased.", slug="erased")
            token, expires = await self._new_invitation(conn, actor, user_id)
        await self.audit(actor, "user.invitation_issue", f"user:{user_id}", "success")
        return token, expires

    async def accept_invitation(self, token: str, password: str) -> tuple[str, str | None]:
        """Set the password; returns (user_id, TOTP provisioning URI if the roles require a second factor)."""
        problem = password_problem(password)
        if problem:
            raise BadRequest(problem, slug="weak-password")
        pw_hash = await self.passwords.hash(password)
        now = _now_dt(self.clock)
        async with self.engine.begin() as conn:
            inv = (await conn.execute(sa.select(invitations).where(invitations.c.token_hash == token_hash(token))
                                      .with_for_update())).mappings().first()
            if inv is None or inv["used_at"] is not None or _ts(inv["expires_at"]) < self.clock():
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
            roles = await self._roles(conn, user_id)
            uri = None
            values: dict[str, Any] = {"password_hash": pw_hash, "status": "active", "updated_at": now,
                                      "totp_secret": None, "tokens_valid_after": now}
            if MFA_ROLES & set(roles):
                secret = new_totp_secret()
                values["totp_secret"] = self.sealer.seal(secret.encode())
                uri = totp_uri(secret, row.email, self.settings.totp_issuer)
            await conn.execute(sa.update(users).where(users.c.id == user_id).values(**values))
        await self.revoke_everything(user_id)
        await self.forget(user_id)
        await self.audit(user_id, "user.invitation_accept", f"user:{user_id}", "success")
        return user_id, uri

    async def get_user(self, user_id: str) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).mappings().first()
            if row is None:
                raise NotFound("No such user.")
            roles = await self._roles(conn, user_id)
            vetting = await self._vetting(conn, user_id)
        return self._public_user(row, roles, vetting)

    @staticmethod
    def _public_user(row: Any, roles: list[str], vetting: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"id": row["id"], "email": row["email"], "display_name": row["display_name"], "status": row["status"],
                "roles": roles, "vetted": row["vetted"], "agreements_current": row["agreements_current"],
                "mfa_enrolled": row["totp_secret"] is not None, "created_at": _iso(row["created_at"]),
                "vetting": vetting or []}

    async def list_users(self, role: str | None = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            query = sa.select(users).order_by(users.c.created_at, users.c.id).limit(limit).offset(offset)
            if role:
                query = query.where(users.c.id.in_(sa.select(user_roles.c.user_id).where(user_roles.c.role == role)))
            rows = (await conn.execute(query)).mappings().all()
            ids = [r["id"] for r in rows]
            role_rows = (await conn.execute(sa.select(user_roles).where(user_roles.c.user_id.in_(ids)))).all()
        by_user: dict[str, list[str]] = {}
        for rr in role_rows:
            by_user.setdefault(rr.user_id, []).append(rr.role)
        return [self._public_user(r, sorted(by_user.get(r["id"], []))) for r in rows]

    async def users_with_role(self, role: str) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(user_roles.c.user_id).join(users, users.c.id == user_roles.c.user_id)
                                      .where(user_roles.c.role == role, users.c.status == "active"))
            return [r.user_id for r in rows]

    async def set_roles(self, actor: str, user_id: str, roles: list[str]) -> list[str]:
        """Replace the roles (`PUT /admin/users/{id}/roles`). A privileged role already held may stay or go;
        adding one is refused here (`PrivilegedInPassing`): that is the explicit grant's job."""
        roles = check_roles(roles)
        async with self.engine.begin() as conn:
            if (await conn.execute(sa.select(users.c.id).where(users.c.id == user_id))).first() is None:
                raise NotFound("No such user.")
            before = await self._roles(conn, user_id)
            if before == roles:
                return roles
            added = PRIVILEGED_ROLES & (set(roles) - set(before))
            if added:
                await self.audit(actor, "user.roles_change", f"user:{user_id}", "denied",
                                 reason="privileged-role-in-passing")
                raise PrivilegedInPassing(added)
            await conn.execute(sa.delete(user_roles).where(user_roles.c.user_id == user_id))
            await conn.execute(sa.insert(user_roles), [{"user_id": user_id, "role": r} for r in roles])
            await conn.execute(sa.update(users).where(users.c.id == user_id).values(updated_at=_now_dt(self.clock)))
            await self.outbox.add(conn, UserRolesChanged(user_id=user_id, roles=roles), subject=f"user:{user_id}")
        await self.forget(user_id)
        await self.audit(actor, "user.roles_change", f"user:{user_id}", "success", reason=",".join(roles))
        return roles

    # -- suspension -----------------------------------------------------------------------------------

    async def revoke_everything(self, user_id: str) -> None:
        for revoke in self.on_revoke:
            await revoke(user_id)

    async def suspend(self, actor: str, user_id: str) -> None:
        now = _now_dt(self.clock)
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.status).where(users.c.id == user_id))).first()
            if row is None:
                raise NotFound("No such user.")
            if row.status == "erased":
                raise Conflict("This account has been erased.", slug="erased")
            if row.status != "suspended":
                await conn.execute(sa.update(users).where(users.c.id == user_id)
                                   .values(status="suspended", tokens_valid_after=now, updated_at=now))
                await self.outbox.add(conn, UserSuspended(user_id=user_id), subject=f"user:{user_id}")
        # Cache first: from here on every request by this user is refused, then the sessions go.
        await self.forget(user_id)
        for announce in self.on_suspend:
            await announce(user_id)
        await self.revoke_everything(user_id)
        await self.audit(actor, "user.suspend", f"user:{user_id}", "success")

    async def reactivate(self, actor: str, user_id: str) -> None:
        now = _now_dt(self.clock)
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.status, users.c.password_hash)
                                      .where(users.c.id == user_id))).first()
            if row is None:
                raise NotFound("No such user.")
            if row.status != "suspended":
                raise Conflict("The account is not suspended.", slug="not-suspended")
            await conn.execute(sa.update(users).where(users.c.id == user_id).values(
                status="active" if row.password_hash else "invited", updated_at=now))
            await self.outbox.add(conn, UserReactivated(user_id=user_id), subject=f"user:{user_id}")
        await self.forget(user_id)
        await self.audit(actor, "user.reactivate", f"user:{user_id}", "success")

    async def request_erasure(self, actor: str, user_id: str) -> str:
        """Right to erasure: the gateway forgets the person (e-mail, name, credentials, notices) at once,
        keeps only the id, and asks the other services to erase theirs (`user.erasure_requested`)."""
        from services.gateway.inbox.tables import inbox_items

        now = _now_dt(self.clock)
        request_id = uuid.uuid4().hex
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.status).where(users.c.id == user_id))).first()
            if row is None:
                raise NotFound("No such user.")
            if row.status == "erased":
                raise Conflict("This account has been erased already.", slug="already-erased")
            await conn.execute(sa.update(users).where(users.c.id == user_id).values(
                status="erased", email=f"erased-{user_id}@erased.invalid", display_name="Erased user",
                password_hash=None, totp_secret=None, tokens_valid_after=now, updated_at=now))
            await conn.execute(sa.update(invitations).where(invitations.c.user_id == user_id,
                                                            invitations.c.used_at.is_(None)).values(used_at=now))
            await conn.execute(sa.delete(inbox_items).where(inbox_items.c.user_id == user_id))
            if row.status != "suspended":  # live sessions elsewhere end on this event
                await self.outbox.add(conn, UserSuspended(user_id=user_id), subject=f"user:{user_id}")
            await self.outbox.add(conn, UserErasureRequested(user_id=user_id, request_id=request_id),
                                  subject=f"user:{user_id}")
        await self.forget(user_id)
        await self.revoke_everything(user_id)
        await self.audit(actor, "user.erasure_request", f"user:{user_id}", "success", reason=request_id)
        return request_id

    async def federated_user(self, email: str, display_name: str, roles: list[str], *, provision: bool,
                             strong_auth: bool) -> UserState:
        """The active account for an upstream-verified e-mail address; roles follow the upstream's mapped
        roles when it sends any. Unknown people are created only when provisioning is on. Roles that need a
        second factor need `strong_auth` (the upstream says it used one); nothing changes otherwise. An
        upstream claim that adds admin or safeguarding is the operator's configured decision, but it is
        never silent: audited, and told to the other admins (and officers) like an explicit grant."""
        from services.gateway.inbox.service import tell_privileged_grant

        email = normalise_email(email)
        now = _now_dt(self.clock)
        gained: frozenset[str] = frozenset()
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.id, users.c.status).where(users.c.email == email))).first()
            effective = roles or (await self._roles(conn, row.id) if row is not None else [])
            if MFA_ROLES & set(effective) and not strong_auth:
                raise Forbidden("Your role needs a second factor; the upstream sign-in did not use one.")
            if row is None:
                if not provision or not roles:
                    raise LoginFailed("There is no Tandem account for this sign-in. Ask an admin for an invitation.")
                user_id = uuid.uuid4().hex
                await conn.execute(sa.insert(users).values(
                    id=user_id, email=email, display_name=display_name[:200] or "Member", status="active",
                    vetted=False, agreements_current=not await self._current_agreement_ids(conn), created_at=now,
                    updated_at=now))
                await conn.execute(sa.insert(user_roles), [{"user_id": user_id, "role": r} for r in roles])
                await self.outbox.add(conn, UserCreated(user_id=user_id, roles=roles), subject=f"user:{user_id}")
                gained = PRIVILEGED_ROLES & set(roles)
            else:
                user_id = row.id
                if row.status != "active":
                    raise LoginFailed("The e-mail address or password is not correct.")
                before = await self._roles(conn, user_id)
                if roles and roles != before:
                    gained = PRIVILEGED_ROLES & (set(roles) - set(before))
                    await conn.execute(sa.delete(user_roles).where(user_roles.c.user_id == user_id))
                    await conn.execute(sa.insert(user_roles), [{"user_id": user_id, "role": r} for r in roles])
                    await self.outbox.add(conn, UserRolesChanged(user_id=user_id, roles=roles),
                                          subject=f"user:{user_id}")
            for role in sorted(gained):
                await tell_privileged_grant(conn, user_id, role, "federation", now)
        await self.forget(user_id)
        for role in sorted(gained):
            await self.audit("federation", "user.privileged_role_grant", f"user:{user_id}", "success", reason=role)
        state = await self.state(user_id)
        assert state is not None  # noqa: S101 - the row exists
        return state

    async def revoke_all_tokens(self, user_id: str) -> None:
        """Logout everywhere: every token issued so far dies."""
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(users).where(users.c.id == user_id)
                               .values(tokens_valid_after=_now_dt(self.clock)))
        await self.forget(user_id)
        await self.revoke_everything(user_id)

    # -- sign-in --------------------------------------------------------------------------------------

    async def clear_failures(self, key: str) -> None:
        await self.redis.delete(f"gw:fails:{key}", f"gw:lock-until:{key}")

    async def locked_for(self, key: str) -> int:
        until = await self.redis.get(f"gw:lock-until:{key}")
        if until is None:
            return 0
        return max(0, int(float(until) - self.clock() + 0.999))

    async def count_failure(self, key: str) -> None:
        failures = int(await self.redis.incr(f"gw:fails:{key}"))
        await self.redis.expire(f"gw:fails:{key}", self.settings.lockout_max_s * 4)
        over = failures - self.settings.lockout_threshold
        if over >= 0:
            wait = min(self.settings.lockout_base_s * (2 ** min(over, 20)), self.settings.lockout_max_s)
            await self.redis.set(f"gw:lock-until:{key}", str(self.clock() + wait), ex=wait + 1)

    async def authenticate(self, email: str, password: str, totp_code: str | None) -> UserState:
        """Check password (and TOTP where the roles need it). Failures are counted per account."""
        try:
            email = normalise_email(email)
        except BadRequest:
            email = "invalid"
        key = token_hash(f"login:{email}")
        locked = await self.locked_for(key)
        if locked:
            # Never the address, nor an unkeyed hash of it (a list of candidate addresses would undo that).
            await self.audit(UNKNOWN_LOGIN, "auth.login", "user:unknown", "denied", reason="locked")
            raise TooManyRequests("Too many failed attempts. Try again later.", slug="locked",
                                  headers={"retry-after": str(locked)})
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.email == email))).mappings().first()
            roles = await self._roles(conn, row["id"]) if row else []
        ok = await self.passwords.verify(row["password_hash"] if row else None, password)
        if row is None or not ok or row["status"] != "active":
            await self.count_failure(key)
            target = f"user:{row['id']}" if row else "user:unknown"
            await self.audit(row["id"] if row else UNKNOWN_LOGIN, "auth.login", target, "failure",
                             reason="suspended" if row is not None and ok else "bad-credentials")
            raise LoginFailed("The e-mail address or password is not correct.")
        user_id = row["id"]
        if MFA_ROLES & set(roles):
            if row["totp_secret"] is None:
                await self.audit(user_id, "auth.mfa", f"user:{user_id}", "denied", reason="not-enrolled")
                raise Problem("A second factor is required for your role but none is set up. "
                              "Ask an admin for a new invitation link.", slug="mfa-not-enrolled")
            if not totp_code:
                raise MfaRequired("Enter the 6-digit code from your authenticator app.")
            if not await self.use_totp(user_id, row["totp_secret"], totp_code):
                await self.count_failure(key)
                await self.audit(user_id, "auth.mfa", f"user:{user_id}", "failure")
                raise MfaRequired("The code is not correct. Enter the current 6-digit code.")
            await self.audit(user_id, "auth.mfa", f"user:{user_id}", "success")
        await self.clear_failures(key)
        await self.audit(user_id, "auth.login", f"user:{user_id}", "success")
        state = await self.state(user_id)
        assert state is not None  # noqa: S101 - the row exists: we just read it
        return state

    async def use_totp(self, user_id: str, sealed_secret: bytes, code: str) -> bool:
        """Whether `code` is the user's current TOTP code and unused; using it spends it (and every earlier
        step), for sign-in and step-up alike."""
        step = totp_step(self.sealer.open(sealed_secret).decode(), code, self.clock())
        if step is None:
            return False
        return bool(await self.redis.eval(_USE_TOTP_STEP, 1, f"gw:totp:{user_id}", str(step), "300"))

    # -- vetting ----------------------------------------------------------------------------------------

    @staticmethod
    async def _vetting(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
        rows = (await conn.execute(sa.select(vetting_checks).where(vetting_checks.c.user_id == user_id))).mappings()
        recorded = {r["item"]: r for r in rows}
        out = []
        for item in VETTING_ITEMS:
            r = recorded.get(item)
            out.append({"item": item, "status": r["status"] if r else "pending",
                        "recorded_by": r["recorded_by"] if r else None,
                        "recorded_at": _iso(r["recorded_at"]) if r else None})
        return out

    async def record_vetting(self, actor: str, user_id: str, item: str, status: str) -> dict[str, Any]:
        if item not in VETTING_ITEMS:
            raise NotFound("No such vetting item.")
        if status not in VETTING_STATUSES:
            raise BadRequest("Status must be pending, passed or failed.", slug="invalid-status")
        now = _now_dt(self.clock)
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(users.c.vetted).where(users.c.id == user_id))).first()
            if row is None:
                raise NotFound("No such user.")
            roles = await self._roles(conn, user_id)
            if "mentor" not in roles:
                raise Conflict("Vetting applies to mentors only.", slug="not-a-mentor")
            await conn.execute(sa.delete(vetting_checks).where(vetting_checks.c.user_id == user_id,
                                                               vetting_checks.c.item == item))
            await conn.execute(sa.insert(vetting_checks).values(user_id=user_id, item=item, status=status,
                                                                recorded_by=actor, recorded_at=now))
            checks = await self._vetting(conn, user_id)
            vetted = all(c["status"] == "passed" for c in checks)
            if vetted != row.vetted:
                await conn.execute(sa.update(users).where(users.c.id == user_id).values(vetted=vetted, updated_at=now))
                await self.outbox.add(conn, UserVettingChanged(user_id=user_id, vetted=vetted),
                                      subject=f"user:{user_id}")
        await self.audit(actor, "user.vetting_change", f"user:{user_id}", "success", reason=f"{item}={status}")
        return {"user_id": user_id, "vetted": vetted, "checks": checks}

    # -- agreements -------------------------------------------------------------------------------------

    @staticmethod
    async def _current_agreement_ids(conn: AsyncConnection) -> list[str]:
        latest = sa.select(agreements.c.kind, sa.func.max(agreements.c.version).label("v")) \
            .group_by(agreements.c.kind).subquery()
        rows = await conn.execute(sa.select(agreements.c.id).join(
            latest, sa.and_(agreements.c.kind == latest.c.kind, agreements.c.version == latest.c.v)))
        return [r.id for r in rows]

    async def publish_agreement(self, actor: str, kind: str, title: str, body: str) -> dict[str, Any]:
        if kind not in AGREEMENT_KINDS:
            raise BadRequest(f"Kind must be one of {', '.join(AGREEMENT_KINDS)}.", slug="invalid-kind")
        if not title.strip() or not body.strip():
            raise BadRequest("Title and text are required.", slug="invalid-agreement")
        now = _now_dt(self.clock)
        agreement_id = uuid.uuid4().hex
        async with self.engine.begin() as conn:
            version = (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(agreements.c.version), 0))
                                          .where(agreements.c.kind == kind))).scalar_one() + 1
            await conn.execute(sa.insert(agreements).values(id=agreement_id, kind=kind, version=version,
                                                            title=title.strip(), body=body, published_by=actor,
                                                            published_at=now))
            # Everyone must accept the new version: tell the other services who no longer qualifies.
            stale = [r.id for r in await conn.execute(sa.select(users.c.id).where(users.c.agreements_current))]
            await conn.execute(sa.update(users).where(users.c.agreements_current).values(agreements_current=False))
            for uid in stale:
                await self.outbox.add(conn, UserAgreementsChanged(user_id=uid, accepted_current=False),
                                      subject=f"user:{uid}")
        await self.audit(actor, "agreement.publish", f"agreement:{agreement_id}", "success")
        return {"id": agreement_id, "kind": kind, "version": version, "title": title.strip(),
                "published_at": now.isoformat()}

    async def agreements_for(self, user_id: str | None) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            current = set(await self._current_agreement_ids(conn))
            rows = (await conn.execute(sa.select(agreements).where(agreements.c.id.in_(current))
                                       .order_by(agreements.c.kind))).mappings().all()
            accepted: dict[str, Any] = {}
            if user_id:
                accepted = {r.agreement_id: r.accepted_at for r in await conn.execute(
                    sa.select(agreement_acceptances).where(agreement_acceptances.c.user_id == user_id))}
        return [{"id": r["id"], "kind": r["kind"], "version": r["version"], "title": r["title"], "body": r["body"],
                 "published_at": _iso(r["published_at"]), "accepted_at": _iso(accepted.get(r["id"]))} for r in rows]

    async def accept_agreement(self, user_id: str, agreement_id: str) -> bool:
        """Record the acceptance; returns whether every current agreement is now accepted."""
        now = _now_dt(self.clock)
        async with self.engine.begin() as conn:
            current = await self._current_agreement_ids(conn)
            if agreement_id not in current:
                exists = (await conn.execute(sa.select(agreements.c.id).where(agreements.c.id == agreement_id))).first()
                if exists is None:
                    raise NotFound("No such agreement.")
                raise Conflict("A newer version of this agreement exists: accept that one.", slug="agreement-outdated")
            done = (await conn.execute(sa.select(agreement_acceptances.c.agreement_id).where(
                agreement_acceptances.c.user_id == user_id,
                agreement_acceptances.c.agreement_id == agreement_id))).first()
            if done is None:
                await conn.execute(sa.insert(agreement_acceptances).values(user_id=user_id, agreement_id=agreement_id,
                                                                           accepted_at=now))
            accepted = {r.agreement_id for r in await conn.execute(
                sa.select(agreement_acceptances.c.agreement_id).where(agreement_acceptances.c.user_id == user_id))}
            all_current = set(current) <= accepted
            row = (await conn.execute(sa.select(users.c.agreements_current).where(users.c.id == user_id))).one()
            if all_current != row.agreements_current:
                await conn.execute(sa.update(users).where(users.c.id == user_id)
                                   .values(agreements_current=all_current, updated_at=now))
                await self.outbox.add(conn, UserAgreementsChanged(user_id=user_id, accepted_current=all_current),
                                      subject=f"user:{user_id}")
        if done is None:
            await self.audit(user_id, "agreement.accept", f"agreement:{agreement_id}", "success")
        return all_current
