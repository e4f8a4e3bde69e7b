"""Authentication + rate limiting of proxied requests, usually without waiting on Redis.

Same rules as `Gateway.caller` + `RateLimiter.hit` (which the gateway's own endpoints use). A request whose
credentials this instance checked less than `auth_cache_s` ago is answered from memory (`AuthCache`); any
other reads the browser session (or the access token's revocation marks) and the cached user state and
bumps the rate counters in ONE Redis round trip (a Lua script). Only a miss on the user state costs a
database read.

Remembering is safe because every change that could end or narrow a sign-in (logout, logout everywhere,
suspension, role or status change, token or token-family revocation) drops the user's entries on this
instance at once and on every other instance through Redis pub/sub (`services.gateway.revocation`). While
this instance is not subscribed (Redis away, reconnecting), nothing is remembered. Idle and absolute
session timeouts and CSRF are checked on every request, remembered or not.

Rate limits stay shared in Redis: a remembered request counts locally and the counts are added to Redis
in the background (`RateCounts`), so one instance's limits are exact and several instances' limits are
exact to within FLUSH_DELAY_S and one Redis round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from services.gateway.accounts.credentials import token_hash
from services.gateway.browser.sessions import CSRF_HEADER, SAFE_METHODS, BrowserSession
from services.gateway.core import Caller, CsrfFailed, Gateway
from services.gateway.revocation import AuthCache
from shared.http import Forbidden, TooManyRequests, Unauthorized
from shared.logging import get_logger

log = get_logger("tandem.gateway.fastauth")

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

FLUSH_DELAY_S = 0.05  # how far behind Redis's shared counters may be (plus one round trip)
_INVALID_TOKEN = 'Bearer error="invalid_token"'  # noqa: S105 - a WWW-Authenticate value


class RateCounts:
    """Fixed-window counters: counted here at once, added to the shared Redis counters in the background.

    `known` is the shared total Redis last reported, `pending` what this instance counted since; the
    decision uses their sum. A single background task sends every pending count in one pipeline.
    """

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._counts: dict[str, list[int]] = {}  # key -> [known, pending]
        self._window = -1
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _roll(self, window: int) -> None:
        if window != self._window:  # keys carry their window: older ones are done with
            suffix = f":{window}"
            self._counts = {k: v for k, v in self._counts.items() if k.endswith(suffix)}
            self._window = window

    def hit(self, key: str, window: int) -> int:
        self._roll(window)
        counts = self._counts.setdefault(key, [0, 0])
        counts[1] += 1
        self._wake.set()
        return counts[0] + counts[1]

    def learn(self, key: str, window: int, total: int) -> int:
        """Take a total Redis reported for `key`; returns the estimate (that total + counts still pending
        here, which may count a batch in flight twice: errs on the side of limiting)."""
        self._roll(window)
        counts = self._counts.setdefault(key, [0, 0])
        counts[0] = max(counts[0], total)
        return counts[0] + counts[1]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-rate-counts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()  # a last try, so a restart loses as little as possible

    async def flush(self) -> None:
        batch = [(key, counts[1]) for key, counts in self._counts.items() if counts[1] > 0]
        if not batch:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, n in batch:
                pipe.incrby(key, n)
                pipe.expire(key, self.ttl_s)
            totals = (await pipe.execute())[::2]
        for (key, n), total in zip(batch, totals, strict=True):
            counts = self._counts.get(key)
            if counts is not None:
                counts[1] = max(0, counts[1] - n)
                counts[0] = max(counts[0], int(total))

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            await self._wake.wait()
            await asyncio.sleep(FLUSH_DELAY_S)  # gather what arrives meanwhile into one pipeline
            self._wake.clear()
            try:
                await self.flush()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: keep counting here, send later
                log.warning("ratelimit.flush_failed", exc_type=type(exc).__name__)
                self._wake.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


@dataclass
class _Remembered:
    caller: Caller
    session: BrowserSession | None
    exp: int | None  # access token expiry (bearer)


class FastAuth:
    def __init__(self, gw: Gateway, redis: Redis, cache: AuthCache) -> None:
        self.gw = gw
        self.script = redis.register_script(_SCRIPT)
        self.cache = cache
        self.counts = RateCounts(redis, gw.settings.rate_limit_window_s + 1)

    def start(self) -> None:
        self.counts.start()

    async def stop(self) -> None:
        await self.counts.stop()

    def _too_many(self, window: int, now: float) -> TooManyRequests:
        retry = max(1, int((window + 1) * self.gw.settings.rate_limit_window_s - now + 0.999))
        return TooManyRequests("Too many requests. Slow down and try again.", slug="rate-limited",
                               headers={"retry-after": str(retry)})

    async def caller(self, headers: Any, method: str, ip: str) -> Caller:
        gw, settings = self.gw, self.gw.settings
        now = gw.clock()
        window = int(now // settings.rate_limit_window_s)
        authorization = headers.get("authorization")
        claims: dict[str, Any] | None = None
        cookie: str | None = None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            claims = gw.oauth.decode(token.strip()) if scheme.lower() == "bearer" else None
            if claims is None or claims.get("aud") != gw.oauth.issuer or "client_id" not in claims:
                raise Unauthorized("The access token is invalid, expired or revoked.",
                                   headers={"www-authenticate": _INVALID_TOKEN})
            memo_key = f"t:{claims.get('jti', '')}"
        else:
            cookie = gw.cookie_of(headers)
            if not cookie or len(cookie) > 128:
                raise Unauthorized("Sign in first.", headers={"www-authenticate": "Bearer"})
            memo_key = f"s:{token_hash(cookie)}"

        remembered = self.cache.get(memo_key, now)
        if isinstance(remembered, _Remembered) and self._still_good(remembered, now):
            caller = remembered.caller
            ip_count = self.counts.hit(f"gw:rl:ip:{ip}:{window}", window)
            id_count = self.counts.hit(f"gw:rl:id:{caller.sub}:{window}", window)
            if id_count > settings.rate_limit_per_identity or ip_count > settings.rate_limit_per_ip:
                raise self._too_many(window, now)
            if remembered.session is not None:
                self._check_csrf(remembered.session, headers, method)
            return caller

        generation = self.cache.generation  # anything announced from here on voids what we read
        caller, session = await self._from_redis(headers, method, ip, now, window, claims, cookie)
        if caller.sub != "anonymous":
            exp = int(claims["exp"]) if claims is not None else None
            self.cache.put(memo_key, caller.sub, _Remembered(caller, session, exp), now, generation)
        return caller

    def _still_good(self, remembered: _Remembered, now: float) -> bool:
        """Token expiry, or the session's timeouts (a session due for its idle-timeout touch goes to Redis)."""
        if remembered.exp is not None:
            return remembered.exp > now
        session = remembered.session
        sessions = self.gw.sessions
        return session is not None and now - session.seen < sessions.touch_s and \
            now - session.created <= sessions.absolute_s

    @staticmethod
    def _check_csrf(session: BrowserSession, headers: Any, method: str) -> None:
        if method.upper() not in SAFE_METHODS and not session.csrf_ok(headers.get(CSRF_HEADER)):
            raise CsrfFailed("A valid CSRF token (x-csrf-token header) is required.")

    async def _from_redis(self, headers: Any, method: str, ip: str, now: float, window: int,
                          claims: dict[str, Any] | None, cookie: str | None) -> tuple[Caller, BrowserSession | None]:
        gw, settings = self.gw, self.gw.settings
        sub = str(claims.get("sub", "")) if claims is not None else ""
        session_key = jti_key = fam_key = ""
        if claims is not None:
            jti_key = f"gw:rev:{claims.get('jti', '')}"
            fam_key = f"gw:fam-rev:{claims['fam']}" if claims.get("fam") else ""
        else:
            session_key = f"gw:s:{token_hash(cookie or '')}"
        ip_key = f"gw:rl:ip:{ip}:{window}"
        raw_session, raw_state, revoked, id_count, ip_count = await self.script(
            keys=[session_key, jti_key, fam_key, ip_key], args=[sub, window, settings.rate_limit_window_s + 1])
        if raw_session is not None:
            sub = str(json.loads(raw_session)["uid"])
        ip_estimate = self.counts.learn(ip_key, window, int(ip_count))  # the script counted this request
        id_estimate = self.counts.learn(f"gw:rl:id:{sub}:{window}", window, int(id_count)) if sub else 0
        if id_estimate > settings.rate_limit_per_identity or ip_estimate > settings.rate_limit_per_ip:
            raise self._too_many(window, now)
        if claims is not None:
            if revoked:
                raise Unauthorized("The access token is invalid, expired or revoked.",
                                   headers={"www-authenticate": _INVALID_TOKEN})
            if "api" not in str(claims.get("scope", "")).split():
                # A token for sign-in only (openid, profile) does not open the services' API.
                raise Forbidden("This token lacks the `api` scope.", slug="insufficient-scope",
                                headers={"www-authenticate": 'Bearer error="insufficient_scope", scope="api"'})
            if sub.startswith("service:"):
                client = await gw.oauth._cached_client(sub.removeprefix("service:"))
                if client is None:
                    raise Unauthorized("The access token is invalid, expired or revoked.")
                return Caller(sub=sub, roles=("service",), sid=None, via="bearer",
                              scope=str(claims.get("scope", ""))), None
            state = await self._state(sub, raw_state)
            if state is None or not state.active or claims["iat"] < int(state.valid_after):
                raise Unauthorized("The access token is invalid, expired or revoked.",
                                   headers={"www-authenticate": _INVALID_TOKEN})
            return Caller(sub=sub, roles=state.roles, sid=claims.get("sid"), via="bearer",
                          scope=str(claims.get("scope", ""))), None
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
        self._check_csrf(session, headers, method)
        if now - session.seen >= sessions.touch_s:
            await sessions.get(cookie)  # refreshes `seen` (idle timeout)
            session.seen = now
        return Caller(sub=state.user_id, roles=state.roles, sid=session.sid, via="cookie", session=session), session

    async def _state(self, user_id: str, raw: bytes | None) -> Any:
        if raw is None:
            return await self.gw.accounts.state(user_id)  # cache miss: read the database, fill the cache
        data = json.loads(raw)
        if data is None:
            return None
        from services.gateway.accounts.service import UserState

        return UserState(user_id, tuple(data["roles"]), data["status"], data["valid_after"])
