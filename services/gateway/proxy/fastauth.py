"""Authentication + rate limiting of proxied requests in ONE Redis round trip (a Lua script).

Same rules as `Gateway.caller` + `RateLimiter.hit` (which the gateway's own endpoints use): the script
reads the browser session (or the access token's revocation marks), the cached user state and bumps the
per-identity and per-IP counters together. Only a cache miss on the user state costs a database read.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from services.gateway.accounts.credentials import token_hash
from services.gateway.browser.sessions import CSRF_HEADER, SAFE_METHODS, BrowserSession
from services.gateway.core import Caller, CsrfFailed, Gateway
from shared.http import Forbidden, TooManyRequests, Unauthorized

# KEYS: 1 session key or "", 2 revoked-jti key or "", 3 revoked-family key or "", 4 per-IP counter
# ARGV: 1 user id for bearer tokens or "", 2 window suffix, 3 counter ttl
_SCRIPT = """
local session = false
local uid = ARGV[1]
if KEYS[1] ~= '' then
  session = redis.call('GET', KEYS[1])
  if session then uid = cjson.decode(session)['uid'] end
end
local revoked = 0
if KEYS[2] ~= '' then revoked = redis.call('EXISTS', KEYS[2]) end
if KEYS[3] ~= '' then revoked = revoked + redis.call('EXISTS', KEYS[3]) end
local state = false
local id_count = 0
if uid ~= '' then
  if string.sub(uid, 1, 8) ~= 'service:' then state = redis.call('GET', 'gw:u:' .. uid) end
  local k = 'gw:rl:id:' .. uid .. ':' .. ARGV[2]
  id_count = redis.call('INCR', k)
  redis.call('EXPIRE', k, ARGV[3])
end
local ip_count = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[3])
return {session, state, revoked, id_count, ip_count}
"""


class FastAuth:
    def __init__(self, gw: Gateway, redis: Redis) -> None:
        self.gw = gw
        self.script = redis.register_script(_SCRIPT)

    async def caller(self, headers: Any, method: str, ip: str) -> Caller:
        gw, settings = self.gw, self.gw.settings
        now = gw.clock()
        window = int(now // settings.rate_limit_window_s)
        ttl = settings.rate_limit_window_s + 1
        authorization = headers.get("authorization")
        session_key = jti_key = fam_key = ""
        sub = ""
        claims: dict[str, Any] | None = None
        cookie: str | None = None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            claims = gw.oauth.decode(token.strip()) if scheme.lower() == "bearer" else None
            if claims is None or claims.get("aud") != gw.oauth.issuer or "client_id" not in claims:
                raise Unauthorized("The access token is invalid, expired or revoked.",
                                   headers={"www-authenticate": 'Bearer error="invalid_token"'})
            sub = str(claims.get("sub", ""))
            jti_key = f"gw:rev:{claims.get('jti', '')}"
            fam_key = f"gw:fam-rev:{claims['fam']}" if claims.get("fam") else ""
        else:
            cookie = gw.cookie_of(headers)
            if not cookie or len(cookie) > 128:
                raise Unauthorized("Sign in first.", headers={"www-authenticate": "Bearer"})
            session_key = f"gw:s:{token_hash(cookie)}"
        raw_session, raw_state, revoked, id_count, ip_count = await self.script(
            keys=[session_key, jti_key, fam_key, f"gw:rl:ip:{ip}:{window}"], args=[sub, window, ttl])
        if int(id_count) > settings.rate_limit_per_identity or int(ip_count) > settings.rate_limit_per_ip:
            retry = max(1, int((window + 1) * settings.rate_limit_window_s - now + 0.999))
            raise TooManyRequests("Too many requests. Slow down and try again.", slug="rate-limited",
                                  headers={"retry-after": str(retry)})
        if claims is not None:
            if revoked:
                raise Unauthorized("The access token is invalid, expired or revoked.",
                                   headers={"www-authenticate": 'Bearer error="invalid_token"'})
            if "api" not in str(claims.get("scope", "")).split():
                # A token for sign-in only (openid, profile) does not open the services' API.
                raise Forbidden("This token lacks the `api` scope.", slug="insufficient-scope",
                                headers={"www-authenticate": 'Bearer error="insufficient_scope", scope="api"'})
            if sub.startswith("service:"):
                client = await gw.oauth._cached_client(sub.removeprefix("service:"))
                if client is None:
                    raise Unauthorized("The access token is invalid, expired or revoked.")
                return Caller(sub=sub, roles=("service",), sid=None, via="bearer", scope=str(claims.get("scope", "")))
            state = await self._state(sub, raw_state)
            if state is None or not state.active or claims["iat"] < int(state.valid_after):
                raise Unauthorized("The access token is invalid, expired or revoked.",
                                   headers={"www-authenticate": 'Bearer error="invalid_token"'})
            return Caller(sub=sub, roles=state.roles, sid=claims.get("sid"), via="bearer",
                          scope=str(claims.get("scope", "")))
        if raw_session is None:
            raise Unauthorized("Sign in first.", headers={"www-authenticate": "Bearer"})
        data = json.loads(raw_session)
        session = BrowserSession(key=session_key.removeprefix("gw:s:"), user_id=data["uid"], sid=data["sid"],
                                 csrf=data["csrf"], created=data["created"], seen=data["seen"],
                                 auth_time=data["auth_time"], amr=data["amr"])
        sessions = gw.sessions
        if now - session.seen > sessions.idle_s or now - session.created > sessions.absolute_s:
            await sessions.delete(session)
            raise Unauthorized("Sign in first.", headers={"www-authenticate": "Bearer"})
        state = await self._state(session.user_id, raw_state)
        if state is None or not state.active or session.created < state.valid_after - 0.001:
            await sessions.delete(session)
            raise Unauthorized("Sign in first.", headers={"www-authenticate": "Bearer"})
        if method.upper() not in SAFE_METHODS and not session.csrf_ok(headers.get(CSRF_HEADER)):
            raise CsrfFailed("A valid CSRF token (x-csrf-token header) is required.")
        if now - session.seen >= sessions.touch_s:
            await sessions.get(cookie)  # refreshes `seen` (idle timeout)
        return Caller(sub=state.user_id, roles=state.roles, sid=session.sid, via="cookie", session=session)

    async def _state(self, user_id: str, raw: bytes | None) -> Any:
        if raw is None:
            return await self.gw.accounts.state(user_id)  # cache miss: read the database, fill the cache
        data = json.loads(raw)
        if data is None:
            return None
        from services.gateway.accounts.service import UserState

        return UserState(user_id, tuple(data["roles"]), data["status"], data["valid_after"])
