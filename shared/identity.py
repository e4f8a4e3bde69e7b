"""Identity assertions: the short-lived signed JWT the gateway forwards with every request.

Internal services trust nothing else: no assertion, an expired one, one for another audience, one
signed by an unknown key or with any algorithm but Ed25519 / ES256 → 401. Keys come from the gateway's
JWKS, cached; an unknown `kid` triggers one refresh (rate-limited), which is how rotation works.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

ASSERTION_HEADER = "tandem-assertion"
ALGORITHMS = ["Ed25519", "ES256"]
MAX_LIFETIME_S = 60
ROLES = frozenset({"mentee", "mentor", "admin", "safeguarding", "operator", "service"})


class InvalidAssertion(Exception):
    """The request carries no valid identity assertion (the reason is for logs, not for clients)."""


@dataclass(frozen=True)
class Identity:
    sub: str
    roles: frozenset[str]
    sid: str | None = None
    jti: str = ""
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_service(self) -> bool:
        return "service" in self.roles


class KeySource(Protocol):
    async def keyset(self, *, refresh: bool = False) -> KeySet: ...


class StaticKeys:
    """A fixed key set (tests, or a JWKS file mounted by the operator)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]

    async def keyset(self, *, refresh: bool = False) -> KeySet:
        return self._keys


class HttpJwks:
    """JWKS fetched from the gateway, cached for `ttl_s`, refreshed at most every `min_refresh_s`."""

    def __init__(
        self, url: str, client: httpx.AsyncClient, *, ttl_s: float = 300.0, min_refresh_s: float = 5.0
    ) -> None:
        self.url = url
        self.client = client
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def keyset(self, *, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        stale = self._keys is None or now - self._fetched_at > self.ttl_s
        may_refresh = now - self._fetched_at >= self.min_refresh_s
        if stale or (refresh and may_refresh):
            async with self._lock:
                if self._fetched_at <= now:  # nobody refreshed while we waited
                    await self._fetch()
        if self._keys is None:
            raise InvalidAssertion("no keys available")
        return self._keys

    async def _fetch(self) -> None:
        try:
            resp = await self.client.get(self.url, timeout=5.0)
            resp.raise_for_status()
            self._keys = KeySet.import_key_set(resp.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            if self._keys is None:
                raise InvalidAssertion(f"cannot fetch JWKS: {type(exc).__name__}") from None
        finally:
            self._fetched_at = time.monotonic()


class AssertionVerifier:
    def __init__(self, keys: KeySource, *, audience: str, issuer: str, leeway_s: int = 5,
                 clock: Any = time.time) -> None:
        self.keys = keys
        self.audience = audience
        self.issuer = issuer
        self.leeway_s = leeway_s
        self.clock = clock

    async def verify(self, token: str | None) -> Identity:
        if not token:
            raise InvalidAssertion("missing")
        keyset = await self.keys.keyset()
        try:
            decoded = jwt.decode(token, keyset, algorithms=ALGORITHMS)
        except JoseError as exc:
            if type(exc).__name__ != "InvalidKeyIdError":
                raise InvalidAssertion(type(exc).__name__) from None
            try:  # an unknown kid: the gateway may have rotated its key
                decoded = jwt.decode(token, await self.keys.keyset(refresh=True), algorithms=ALGORITHMS)
            except JoseError as exc2:
                raise InvalidAssertion(type(exc2).__name__) from None
        except ValueError:
            raise InvalidAssertion("malformed") from None
        claims = decoded.claims
        now = int(self.clock())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidAssertion(type(exc).__name__) from None
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int) or not isinstance(iat, int) or exp - iat > MAX_LIFETIME_S:
            raise InvalidAssertion("lifetime")
        if exp > now + MAX_LIFETIME_S + self.leeway_s:
            raise InvalidAssertion("lifetime")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidAssertion("roles")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise InvalidAssertion("sub")
        return Identity(sub=sub, roles=frozenset(roles) & ROLES, sid=claims.get("sid"),
                        jti=str(claims.get("jti", "")), claims=dict(claims))
