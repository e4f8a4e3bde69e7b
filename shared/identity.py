"""Identity assertions: the short-lived signed JWT the gateway forwards with every request.

Internal services trust nothing else: no assertion, an expired one, one for another audience, one
signed by an unknown key or with any algorithm but Ed25519 / ES256 → 401. Keys come from the gateway's
JWKS, cached; an unknown `kid` triggers one refresh (rate-limited), which is how rotation works.

A captured assertion is useless:
- it is bound to the one request it was minted for: `htm` (the method, or "WS" for a WebSocket
  handshake) and `htu` (the request target as sent on the wire: raw path plus `?query` when there is
  one), the same pair RFC 9449 (DPoP) binds, with the query added. Another method, path or query → 401;
- it is used once per audience across every instance of a service: its `jti` is recorded in the
  service's Redis (SET NX, kept until `exp` + leeway, when the assertion is void anyway). A second use,
  here or on another instance → 401. When that record cannot be made (Redis down or too slow), the
  request is refused with 503 and Retry-After: accepting would make the assertion replayable, and the
  caller did nothing wrong (not a 401), and nothing is broken in the service (not a 500).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis
from redis.exceptions import RedisError

ASSERTION_HEADER = "tandem-assertion"
ALGORITHMS = ["Ed25519", "ES256"]
MAX_LIFETIME_S = 60
ROLES = frozenset({"mentee", "mentor", "admin", "safeguarding", "operator", "service"})
WEBSOCKET_METHOD = "WS"  # `htm` of a WebSocket handshake (an HTTP GET, but never interchangeable with one)
_JTI = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def request_target(path: str, query: str = "") -> str:
    """`htu`: the raw (undecoded) path, plus `?query` when there is one, as the request line carries it."""
    return f"{path}?{query}" if query else path


class InvalidAssertion(Exception):
    """The request carries no valid identity assertion (the reason is for logs, not for clients)."""


class AssertionCheckUnavailable(Exception):
    """The single-use check could not be made (its store is down): refuse with 503, never accept."""


class ReplayGuard(Protocol):
    async def first_use(self, audience: str, jti: str, ttl_s: int) -> bool:
        """Record `jti` for `ttl_s` seconds; False when it was recorded already (a replay)."""
        ...


class RedisReplayGuard:
    """Used `jti`s in Redis, shared by every instance of a service (`SET NX EX`). One round trip per
    request, bounded by `timeout_s`: a Redis that hangs is an outage (503), not a request that hangs."""

    PREFIX = "tandem:assertion-jti"

    def __init__(self, redis: Redis, *, timeout_s: float = 2.0) -> None:
        self.redis = redis
        self.timeout_s = timeout_s

    async def first_use(self, audience: str, jti: str, ttl_s: int) -> bool:
        try:
            async with asyncio.timeout(self.timeout_s):
                return bool(await self.redis.set(f"{self.PREFIX}:{audience}:{jti}", b"1", nx=True,
                                                 ex=max(1, ttl_s)))
        except (RedisError, OSError, TimeoutError) as exc:
            raise AssertionCheckUnavailable(type(exc).__name__) from None


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


@dataclass(frozen=True, kw_only=True)
class ActsForCaller:
    """A feature service that acts for one caller. The context holds it with no caller; a route's
    dependency hands each request `service.acting_for(identity)`, so no handler passes an identity on and
    none can pass the wrong one. Used with no caller, it refuses to act (a programming error, never a grant)."""

    caller: Identity | None = None

    def acting_for(self, identity: Identity) -> Self:
        return dataclasses.replace(self, caller=identity)

    @property
    def me(self) -> Identity:
        if self.caller is None:
            raise RuntimeError(f"{type(self).__name__} acts for a caller: use acting_for(identity)")
        return self.caller


class KeySource(Protocol):
    async def keyset(self, *, refresh: bool = False) -> KeySet: ...


class StaticKeys:
    """A fixed key set (tests, or a JWKS file mounted by the operator)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]

    async def keyset(self, *, refresh: bool = False) -> KeySet:
        return self._keys


class HttpJwks:
    """JWKS fetched from the gateway, cached for `ttl_s`, refreshed at most every `min_refresh_s`.

    An unknown `kid` asks for a refresh. When the last fetch was less than `min_refresh_s` ago, the
    request waits for the next allowed one (all waiters share it) instead of being refused: otherwise a
    key that starts signing within `min_refresh_s` of a fetch (two rotations in a row, or a short
    GATEWAY_KEY_PUBLISH_AHEAD_S) left the service answering 401 to every request until then. The
    limit still holds for forged kids: at most one fetch per `min_refresh_s`, and a request never waits
    longer than `max_wait_s` (when the next refresh is further away it is refused at once).
    """

    def __init__(
        self, url: str, client: httpx.AsyncClient, *, ttl_s: float = 300.0, min_refresh_s: float = 1.0,
        max_wait_s: float = 2.0,
    ) -> None:
        self.url = url
        self.client = client
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self.max_wait_s = max_wait_s
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def keyset(self, *, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        stale = self._keys is None or now - self._fetched_at > self.ttl_s
        if refresh and not stale:
            wait = self._fetched_at + self.min_refresh_s - now
            if wait > self.max_wait_s:
                refresh = False
            elif wait > 0:
                await asyncio.sleep(wait)
        if stale or refresh:
            async with self._lock:
                if self._fetched_at <= now:  # nobody refreshed since we asked
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
    def __init__(self, keys: KeySource, *, audience: str, issuer: str, replay: ReplayGuard, leeway_s: int = 5,
                 clock: Any = time.time) -> None:
        self.keys = keys
        self.audience = audience
        self.issuer = issuer
        self.replay = replay
        self.leeway_s = leeway_s
        self.clock = clock

    async def verify(self, token: str | None, *, method: str, target: str) -> Identity:
        """The identity `token` asserts for this request (`method`, or WEBSOCKET_METHOD, and the raw
        request target, see `request_target`), recording it as used. Raises InvalidAssertion (401) or
        AssertionCheckUnavailable (503)."""
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
            jti={"essential": True},
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
        if claims.get("htm") != method or claims.get("htu") != target:
            raise InvalidAssertion("binding")  # minted for another request
        jti = claims.get("jti")
        if not isinstance(jti, str) or not _JTI.match(jti):
            raise InvalidAssertion("jti")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidAssertion("roles")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise InvalidAssertion("sub")
        # Last: only an assertion that is otherwise good for this very request spends its jti.
        if not await self.replay.first_use(self.audience, jti, exp + self.leeway_s - now):
            raise InvalidAssertion("replayed")
        return Identity(sub=sub, roles=frozenset(roles) & ROLES, sid=claims.get("sid"), jti=jti, claims=dict(claims))
