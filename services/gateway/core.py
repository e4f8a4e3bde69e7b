"""The gateway's resources (kept in `runtime.extras["gateway"]`) and caller authentication shared by
the proxy and the gateway's own endpoints: a browser session cookie (+ CSRF token on unsafe methods)
or an OAuth bearer access token."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from redis.asyncio import Redis

from services.gateway.accounts.service import Accounts
from services.gateway.browser.sessions import CSRF_HEADER, SAFE_METHODS, BrowserSession, BrowserSessions
from services.gateway.config import Settings
from services.gateway.keys.service import Clock, Keys
from services.gateway.oauth.service import OAuthServer
from services.gateway.proxy.assertions import sign_compact
from services.gateway.proxy.ratelimit import RateLimiter
from services.gateway.proxy.upstream import UpstreamPool
from shared.http import Forbidden, Unauthorized
from shared.identity import ASSERTION_HEADER


@dataclass
class Caller:
    sub: str
    roles: tuple[str, ...]
    sid: str | None
    via: str  # "cookie" | "bearer" | "public" (anonymous reports routes)
    session: BrowserSession | None = None
    scope: str = ""

    @property
    def user_id(self) -> str | None:
        return None if self.sub.startswith("service:") else self.sub

    def has(self, *roles: str) -> bool:
        return bool(set(self.roles) & set(roles))


class CsrfFailed(Forbidden):
    slug = "csrf"


@dataclass
class Gateway:
    settings: Settings
    clock: Clock
    redis: Redis
    keys: Keys
    accounts: Accounts
    sessions: BrowserSessions
    oauth: OAuthServer
    limiter: RateLimiter
    upstream: UpstreamPool
    extras: dict[str, Any] = field(default_factory=dict)

    def cookie_of(self, headers: Any) -> str | None:
        return _cookie(headers.get("cookie"), self.settings.cookie_name)

    async def caller(self, connection: ASGIConnection[Any, Any, Any, Any], *, method: str | None = None,
                     required: bool = True) -> Caller | None:
        """Who is calling; raises 401 (no/invalid credentials) or 403 (CSRF) when `required`."""
        headers = connection.headers
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Use a Bearer access token.",
                                   headers={"www-authenticate": 'Bearer error="invalid_request"'})
            checked = await self.oauth.check_access_token(token.strip())
            if checked is None:
                raise Unauthorized("The access token is invalid, expired or revoked.",
                                   headers={"www-authenticate": 'Bearer error="invalid_token"'})
            return Caller(sub=checked.sub, roles=checked.roles, sid=checked.sid, via="bearer", scope=checked.scope)
        session = await self.sessions.get(self.cookie_of(headers))
        if session is not None:
            state = await self.accounts.state(session.user_id)
            if state is None or not state.active or session.created < state.valid_after - 0.001:
                await self.sessions.delete(session)
                session = None
            else:
                verb = str(method or connection.scope.get("method") or "GET").upper()
                if verb not in SAFE_METHODS and not session.csrf_ok(headers.get(CSRF_HEADER)):
                    raise CsrfFailed("A valid CSRF token (x-csrf-token header) is required.")
                return Caller(sub=state.user_id, roles=state.roles, sid=session.sid, via="cookie", session=session)
        if required:
            raise Unauthorized("Sign in first.", headers={"www-authenticate": "Bearer"})
        return None

    def assertion(self, caller: Caller, audience: str, *, method: str, target: str) -> str:
        """The identity assertion for one request to `audience`: bound to its `method` (or "WS") and its
        wire target (`shared.identity.request_target`), with a fresh `jti` the service accepts once."""
        now = int(self.clock())
        claims: dict[str, Any] = {"iss": self.settings.assertion_issuer, "sub": caller.sub, "aud": audience,
                                  "roles": list(caller.roles), "iat": now,
                                  "exp": now + self.settings.assertion_lifetime_s, "jti": uuid.uuid4().hex,
                                  "htm": method, "htu": target}
        if caller.sid:
            claims["sid"] = caller.sid
        key = self.keys.assertion.current()
        if key.alg == "Ed25519":  # (the assertion ring's algorithm; the general path stays for any other)
            return sign_compact(key, claims)
        return self.keys.assertion.sign(claims)


def _cookie(header: str | None, name: str) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip() or None
    return None


IDENTITY_HEADERS = frozenset({ASSERTION_HEADER, "x-user", "x-user-id", "x-user-roles", "x-roles", "x-forwarded-user",
                              "x-remote-user", "remote-user", "x-auth-request-user", "x-identity"})


def now_s() -> float:
    return time.time()
