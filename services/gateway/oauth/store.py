"""What the authorization server keeps, and under which names: this module owns its Redis keys.

Redis (short-lived): authorization codes (`gw:code:`), the family a redeemed code produced (`gw:code-used:`,
so a replay can revoke it), revoked access tokens by `jti` (`gw:rev:`) and by family (`gw:fam-rev:`), and the
response a refresh returned, for a retry within the grace window (`gw:rt-grace:`). The database: refresh
tokens, stored by hash (`OAuthStore` keeps both)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.oauth.tables import refresh_tokens
from shared.clock import aware

CODE_USED_S = 600
CODE = "gw:code:"  # + hash of the code: what it stands for (`CodeGrant`), until redeemed
CODE_USED = "gw:code-used:"  # + hash of a redeemed code: the token family it produced
GRACE = "gw:rt-grace:"  # + hash of a spent refresh token: the response its first use returned (sealed)


def revoked_key(jti: str) -> str:
    """Exists while the access token `jti` is revoked."""
    return f"gw:rev:{jti}"


def family_revoked_key(family: str) -> str:
    """Exists (holding the reason) while every access token of the token family is revoked."""
    return f"gw:fam-rev:{family}"


def revocation_keys(claims: dict[str, Any]) -> list[str]:
    """The keys whose existence revokes an access token with these claims: its `jti`'s and its family's."""
    family = claims.get("fam")
    return [revoked_key(str(claims.get("jti", ""))), *([family_revoked_key(str(family))] if family else [])]


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


@dataclass(frozen=True)
class CodeGrant:
    """What an authorization code stands for, until it is redeemed."""

    client_id: str
    redirect_uri: str
    user_id: str
    sid: str
    scope: list[str]
    challenge: str
    nonce: str | None
    auth_time: int
    exp: float
    amr: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RefreshToken:
    """A refresh token's row (the token itself is never stored)."""

    family_id: str
    user_id: str
    client_id: str
    scope: str
    sid: str | None
    auth_time: int
    created_at: float
    expires_at: float
    used_at: float | None
    revoked_at: float | None


def _epoch(value: datetime | None) -> float | None:
    return aware(value).timestamp() if value is not None else None


@dataclass(eq=False)
class OAuthStore:
    """What the authorization server keeps: in Redis, codes and revocation marks; in the database, refresh
    tokens (by the hash of the token). Each with a typed read."""

    redis: Redis
    engine: AsyncEngine

    # -- Redis -----------------------------------------------------------------------------------------

    async def put_code(self, code_hash: str, grant: CodeGrant, ttl_s: int) -> None:
        await self.redis.set(CODE + code_hash, json.dumps(asdict(grant)), ex=ttl_s)

    async def take_code(self, code_hash: str) -> CodeGrant | None:
        """The code's grant, once: the code is gone after this read."""
        raw = await self.redis.getdel(CODE + code_hash)
        return None if raw is None else CodeGrant(**json.loads(raw))

    async def code_used(self, code_hash: str, family: str) -> None:
        await self.redis.set(CODE_USED + code_hash, family, ex=CODE_USED_S)

    async def family_of_used_code(self, code_hash: str) -> str | None:
        raw = await self.redis.get(CODE_USED + code_hash)
        return None if raw is None else _text(raw)

    async def revoke_token(self, jti: str, ttl_s: int) -> None:
        await self.redis.set(revoked_key(jti), "1", ex=ttl_s)

    async def revoke_families(self, families: Sequence[str], reason: str, ttl_s: int) -> None:
        for family in families:
            await self.redis.set(family_revoked_key(family), reason, ex=ttl_s)

    async def is_revoked(self, claims: dict[str, Any]) -> bool:
        """Whether an access token with these claims was revoked (itself or its family)."""
        return bool(await self.redis.exists(*revocation_keys(claims)))

    async def put_grace(self, refresh_hash: str, sealed: bytes, ttl_ms: int) -> None:
        await self.redis.set(GRACE + refresh_hash, sealed, px=ttl_ms)

    async def grace(self, refresh_hash: str) -> bytes | None:
        raw = await self.redis.get(GRACE + refresh_hash)
        return None if raw is None else (raw if isinstance(raw, bytes) else raw.encode())

    # -- refresh tokens --------------------------------------------------------------------------------

    async def add_refresh(self, token_hash: str, *, family: str, user_id: str, client_id: str, scope: str,
                          sid: str | None, auth_time: int, now: float, expires: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.insert(refresh_tokens).values(
                token_hash=token_hash, family_id=family, user_id=user_id, client_id=client_id, scope=scope, sid=sid,
                auth_time=auth_time, created_at=datetime.fromtimestamp(now, UTC),
                expires_at=datetime.fromtimestamp(expires, UTC)))

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash))
                   ).first()
        if row is None:
            return None
        return RefreshToken(family_id=row.family_id, user_id=row.user_id, client_id=row.client_id, scope=row.scope,
                            sid=row.sid, auth_time=row.auth_time, created_at=aware(row.created_at).timestamp(),
                            expires_at=aware(row.expires_at).timestamp(), used_at=_epoch(row.used_at),
                            revoked_at=_epoch(row.revoked_at))

    async def claim_refresh(self, token_hash: str, now: float) -> bool:
        """Marks the refresh token used, if it was not: whether this call did (only one caller ever does)."""
        async with self.engine.begin() as conn:
            claimed = await conn.execute(sa.update(refresh_tokens).where(
                refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used_at.is_(None))
                .values(used_at=datetime.fromtimestamp(now, UTC)))
        return bool(claimed.rowcount)

    async def revoke_refresh_family(self, family: str, now: float) -> None:
        await self._revoke_refresh(refresh_tokens.c.family_id == family, now)

    async def revoke_refresh_of_user(self, user_id: str, now: float) -> list[str]:
        """Revokes every live refresh token of the user; returns the families they belonged to."""
        return await self._revoke_refresh(refresh_tokens.c.user_id == user_id, now)

    async def _revoke_refresh(self, where: sa.ColumnElement[bool], now: float) -> list[str]:
        live = sa.and_(where, refresh_tokens.c.revoked_at.is_(None))
        async with self.engine.begin() as conn:
            families = [r.family_id for r in await conn.execute(
                sa.select(refresh_tokens.c.family_id).distinct().where(live))]
            await conn.execute(sa.update(refresh_tokens).where(live)
                               .values(revoked_at=datetime.fromtimestamp(now, UTC)))
        return families

    async def family_owner(self, family: str) -> str | None:
        async with self.engine.connect() as conn:
            owner = (await conn.execute(sa.select(refresh_tokens.c.user_id)
                                        .where(refresh_tokens.c.family_id == family).limit(1))).scalar()
        return None if owner is None else str(owner)

    async def families_of_sid(self, sid: str) -> list[str]:
        async with self.engine.connect() as conn:
            return [r.family_id for r in await conn.execute(
                sa.select(refresh_tokens.c.family_id).distinct().where(refresh_tokens.c.sid == sid))]
