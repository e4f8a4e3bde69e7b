"""The user store: the accounts' rows (users and their roles), the rules they follow, and the `UserState`
every authenticated request needs, cached in Redis under keys this module owns (`user_state_key`).

Whoever ends a user's sign-ins or changes what they may do goes through here: `forget` drops the cached
state (and tells `on_change`), `revoke_everything` tells `on_revoke` (browser sessions, refresh tokens,
live sockets)."""

from __future__ import annotations

import functools
import json
import uuid
import zoneinfo
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.gateway.accounts.tables import agreements, user_roles, users, vetting_checks
from shared.clock import EpochClock, aware
from shared.events.types import UserCreated, UserRolesChanged
from shared.http import BadRequest, Conflict, NotFound, Unprocessable
from shared.outbox import Outbox

USER_ROLES = frozenset({"mentee", "mentor", "admin", "safeguarding", "operator"})
MFA_ROLES = frozenset({"admin", "safeguarding"})
# Granted only as their own step (POST GRANT_PATH, with the granting admin's authenticator code), never
# along with an invitation or a role update: a ticked box must not make someone an admin or an officer.
PRIVILEGED_ROLES = MFA_ROLES
GRANT_PATH = "/admin/users/{user_id}/privileged-roles"
VETTING_ITEMS = ("professional_verification", "references", "interview", "background_check")  # mentors'
USER_STATE_PREFIX = "gw:u:"  # + user id: the cached `UserState` (JSON, or "null" for no such user)
STATE_TTL_S = 300
MISSING_TTL_S = 60

Hook = Callable[[str], Awaitable[Any]]  # called with a user id
# Tells the other admins (and officers) of a privileged role granted, in the grant's own transaction:
# (conn, user id, role, granted by, now).
TellGrant = Callable[[AsyncConnection, str, str, str, datetime], Awaitable[object]]


class PrivilegedInPassing(Unprocessable):
    slug = "privileged-role-needs-explicit-grant"

    def __init__(self, roles: Collection[str]) -> None:
        names = " and ".join(sorted(roles))
        super().__init__(f"The {names} role{'s are' if len(roles) > 1 else ' is'} not granted with an invitation "
                         f"or a role update. Grant it as its own step: POST {GRANT_PATH} with the role, a "
                         "confirmation and your authenticator code (on the person's page in the web app).",
                         extra={"privileged_roles": sorted(roles), "grant_endpoint": GRANT_PATH})


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


class InvalidTimeZone(BadRequest):
    slug = "invalid-time-zone"


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA zone names this machine knows (system tz data, or the tzdata package where there is none)."""
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(name: str) -> str:
    if name not in time_zones():
        raise InvalidTimeZone("Choose a time zone from the list, such as Europe/London.")
    return name


def at(clock: EpochClock) -> datetime:
    """The clock's time as a UTC datetime (for the database)."""
    return datetime.fromtimestamp(clock(), UTC)


def iso(value: datetime | None) -> str | None:
    """A stored instant as ISO 8601 (UTC), or None."""
    return aware(value).isoformat() if value is not None else None


def epoch(value: datetime | None) -> float:
    """A stored instant as epoch seconds; never (None) is 0."""
    return aware(value).timestamp() if value is not None else 0.0


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


@dataclass(frozen=True)
class Contact:
    email: str
    display_name: str


def user_state_key(user_id: str) -> str:
    return USER_STATE_PREFIX + user_id


def read_user_state(user_id: str, raw: bytes | str) -> UserState | None:
    """A cached value (`user_state_key`), typed: None when the cache knows there is no such user."""
    data = json.loads(raw)
    if data is None:
        return None
    return UserState(user_id, tuple(data["roles"]), data["status"], data["valid_after"])


async def roles_of(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(sa.select(user_roles.c.role).where(user_roles.c.user_id == user_id))
    return sorted(r.role for r in rows)


async def checklist(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    """Every vetting item of the user, recorded or still pending."""
    rows = (await conn.execute(sa.select(vetting_checks).where(vetting_checks.c.user_id == user_id))).mappings()
    recorded = {r["item"]: r for r in rows}
    out = []
    for item in VETTING_ITEMS:
        r = recorded.get(item)
        out.append({"item": item, "status": r["status"] if r else "pending",
                    "recorded_by": r["recorded_by"] if r else None,
                    "recorded_at": iso(r["recorded_at"]) if r else None})
    return out


async def status_of(conn: AsyncConnection, user_id: str, *, erased: str | None = None) -> str:
    """The account's status (invited, active, suspended, erased): 404 if there is no such account, 409 with
    the message `erased` if it is erased and the caller said so."""
    status = (await conn.execute(sa.select(users.c.status).where(users.c.id == user_id))).scalar_one_or_none()
    if status is None:
        raise NotFound("No such user.")
    if erased is not None and status == "erased":
        raise Conflict(erased, slug="erased")
    return str(status)


def _public_user(row: Any, roles: list[str], vetting: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": row["id"], "email": row["email"], "display_name": row["display_name"], "status": row["status"],
            "roles": roles, "vetted": row["vetted"], "agreements_current": row["agreements_current"],
            "mfa_enrolled": row["totp_secret"] is not None and row["totp_status"] == "confirmed",
            "created_at": iso(row["created_at"]), "time_zone": row["time_zone"], "language": row["language"],
            "vetting": vetting or []}


@dataclass(eq=False)
class Users:
    engine: AsyncEngine
    redis: Redis
    outbox: Outbox
    clock: EpochClock
    # Browser sessions, refresh tokens, live sockets: all of the user's end.
    on_revoke: list[Hook] = field(default_factory=list, init=False)
    on_change: list[Hook] = field(default_factory=list, init=False)  # roles, status: the proxy forgets sign-ins

    # -- cached state -------------------------------------------------------------------------------

    async def state(self, user_id: str) -> UserState | None:
        """From the cache, or from the database (and then cached)."""
        raw = await self.redis.get(user_state_key(user_id))
        if raw is not None:
            return read_user_state(user_id, raw)
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users.c.status, users.c.tokens_valid_after)
                                      .where(users.c.id == user_id))).first()
            roles = await roles_of(conn, user_id) if row else []
        if row is None:
            await self.redis.set(user_state_key(user_id), "null", ex=MISSING_TTL_S)
            return None
        state = UserState(user_id, tuple(roles), row.status, epoch(row.tokens_valid_after))
        await self.redis.set(user_state_key(user_id), json.dumps(
            {"roles": list(state.roles), "status": state.status, "valid_after": state.valid_after}), ex=STATE_TTL_S)
        return state

    async def forget(self, user_id: str) -> None:
        await self.redis.delete(user_state_key(user_id))
        for changed in self.on_change:
            await changed(user_id)

    async def revoke_everything(self, user_id: str) -> None:
        for revoke in self.on_revoke:
            await revoke(user_id)

    async def contact(self, user_id: str) -> Contact | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users.c.email, users.c.display_name)
                                      .where(users.c.id == user_id))).first()
        return None if row is None else Contact(row.email, row.display_name)

    # -- rows, inside the caller's transaction ---------------------------------------------------------

    async def add(self, conn: AsyncConnection, *, email: str, display_name: str, status: str, roles: list[str],
                  now: datetime) -> str:
        """A new account and its roles, with its `user.created` event; returns its id."""
        user_id = uuid.uuid4().hex
        await conn.execute(sa.insert(users).values(
            id=user_id, email=email, display_name=display_name, status=status, vetted=False,
            # Nothing to accept before the first agreement is published.
            agreements_current=(await conn.execute(sa.select(agreements.c.id).limit(1))).first() is None,
            created_at=now, updated_at=now))
        if roles:
            await conn.execute(sa.insert(user_roles), [{"user_id": user_id, "role": r} for r in roles])
        await self.outbox.add(conn, UserCreated(user_id=user_id, roles=roles), subject=f"user:{user_id}")
        return user_id

    async def replace_roles(self, conn: AsyncConnection, user_id: str, roles: list[str]) -> None:
        """The user's roles become `roles`, with the `user.roles_changed` event."""
        await conn.execute(sa.delete(user_roles).where(user_roles.c.user_id == user_id))
        await conn.execute(sa.insert(user_roles), [{"user_id": user_id, "role": r} for r in roles])
        await self.outbox.add(conn, UserRolesChanged(user_id=user_id, roles=roles), subject=f"user:{user_id}")

    async def set_time_zone(self, user_id: str, name: str) -> str:
        """The person's own time zone (an IANA name; 400 `invalid-time-zone` otherwise)."""
        check_time_zone(name)
        async with self.engine.begin() as conn:
            await status_of(conn, user_id)
            await conn.execute(sa.update(users).where(users.c.id == user_id)
                               .values(time_zone=name, updated_at=at(self.clock)))
        return name

    async def set_language(self, user_id: str, language: str) -> str:
        """The person's own language for the web app (one of LANGUAGES; the schema refuses others)."""
        async with self.engine.begin() as conn:
            await status_of(conn, user_id)
            await conn.execute(sa.update(users).where(users.c.id == user_id)
                               .values(language=language, updated_at=at(self.clock)))
        return language

    # -- reads for admins and the user's own page ----------------------------------------------------------

    async def get_user(self, user_id: str) -> dict[str, Any]:
        """One account with its vetting checklist."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).mappings().first()
            if row is None:
                raise NotFound("No such user.")
            roles = await roles_of(conn, user_id)
            vetting = await checklist(conn, user_id)
        return _public_user(row, roles, vetting)

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
        return [_public_user(r, sorted(by_user.get(r["id"], []))) for r in rows]
