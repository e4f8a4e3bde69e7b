"""Who is calling, usually without waiting on Redis: the rules (`rules`) behind a short memory (`cache`).

A request whose credentials this instance checked less than `auth_cache_s` ago is answered from memory
(`AuthCache`); any other reads the browser session (or the access token's revocation marks), the cached
user state and, at a counted door, bumps the rate counters, in ONE Redis round trip (a Lua script that is
handed every key name by the store that owns it). Only a miss on the user state costs a database read.

Remembering is safe because every change that could end or narrow a sign-in (logout, logout everywhere,
suspension, role or status change, token or token-family revocation) drops the user's entries on this
instance at once and on every other instance through Redis pub/sub (`auth.cache`). While this instance
is not subscribed (Redis away, reconnecting), nothing is remembered. Idle and absolute session timeouts,
CSRF and a door's token scope are checked on every request, remembered or not.

Rate limits stay shared in Redis: a remembered request counts locally and the counts are added to Redis
in the background (`shared.ratelimit.RateCounts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from services.gateway.auth import rules
from services.gateway.auth.cache import AuthCache
from services.gateway.auth.caller import BrowserSession, Caller, cookie_value
from services.gateway.auth.ports import SessionStore, TokenStore, UserState, UserStates
from services.gateway.auth.rules import ENDPOINTS, Door
from shared.clock import EpochClock
from shared.ratelimit import RateCounts, RateLimiter

# KEYS: 1 session or "", 2 and 3 revocation marks or "", 4 per-address counter or "" (not counted)
# ARGV: 1 user id of a bearer token or "", 2 user-state key prefix, 3 and 4 what comes before and after
#       the user id in the per-identity counter's key ("" and "": not counted), 5 counter ttl
SCRIPT = """
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
  if string.sub(uid, 1, 8) ~= 'service:' then state = redis.call('GET', ARGV[2] .. uid) end
  if ARGV[3] ~= '' then
    local k = ARGV[3] .. uid .. ARGV[4]
    id_count = redis.call('INCR', k)
    redis.call('EXPIRE', k, ARGV[5])
  end
end
local ip_count = 0
if KEYS[4] ~= '' then
  ip_count = redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], ARGV[5])
end
return {session, state, revoked, id_count, ip_count}
"""


@dataclass(frozen=True)
class Limits:
    """The rate limits of a counted door, on the counters of `limiter`."""

    limiter: RateLimiter
    per_identity: int
    per_ip: int


@dataclass
class _Remembered:
    caller: Caller
    exp: int | None  # access token expiry (bearer)


class Authenticator:
    def __init__(self, redis: Redis, *, sessions: SessionStore, users: UserStates, tokens: TokenStore,
                 cache: AuthCache, cookie_name: str, limits: Limits, clock: EpochClock) -> None:
        self.sessions = sessions
        self.users = users
        self.tokens = tokens
        self.cache = cache
        self.cookie_name = cookie_name
        self.limits = limits
        self.clock = clock
        self.script = redis.register_script(SCRIPT)
        self.counts = RateCounts(redis, limits.limiter.ttl_s)

    def start(self) -> None:
        self.counts.start()

    async def stop(self) -> None:
        await self.counts.stop()

    def cookie(self, headers: Any) -> str | None:
        """The session cookie a request carries, if any."""
        return cookie_value(headers.get("cookie"), self.cookie_name)

    async def caller(self, headers: Any, method: str, ip: str, door: Door = ENDPOINTS) -> Caller:
        """Who is calling through `door`; raises 401 (no or invalid credentials), 403 (CSRF, token scope) or
        429 (a counted door's rate limits)."""
        now = self.clock()
        window = self.limits.limiter.window(now)
        authorization = headers.get("authorization")
        claims: dict[str, Any] | None = None
        key_hash = ""
        if authorization:
            token = rules.bearer_token(authorization, door)
            claims = rules.usable_claims(self.tokens.decode(token) if token else None, self.tokens.issuer)
            memo_key = f"t:{claims.get('jti', '')}"
        else:
            key_hash = self.sessions.hash(rules.usable_cookie(self.cookie(headers)))
            memo_key = f"s:{key_hash}"

        remembered = self.cache.get(memo_key, now)
        if isinstance(remembered, _Remembered) and self._still_good(remembered, now):
            caller = remembered.caller
            if door.counted:
                ip_count = self.counts.hit(self.limits.limiter.key(f"ip:{ip}", window), window)
                id_count = self.counts.hit(self.limits.limiter.key(f"id:{caller.sub}", window), window)
                self._check_limits(id_count, ip_count, now)
            return rules.admit(caller, door, headers, method)

        generation = self.cache.generation  # anything announced from here on voids what we read
        caller = await self._read(door, ip, now, window, claims, key_hash)
        exp = int(claims["exp"]) if claims is not None else None
        self.cache.put(memo_key, caller.sub, _Remembered(caller, exp), now, generation)
        rules.admit(caller, door, headers, method)
        session = caller.session
        if session is not None and now - session.seen >= self.sessions.touch_s:
            session.seen = now
            await self.sessions.touch(session)
        return caller

    async def signed_in(self, headers: Any) -> Caller | None:
        """The caller of the browser session a request's cookie opens, whatever else it carries (its
        Authorization header, its CSRF token); None when there is none, or it is over (then deleted)."""
        session = await self.sessions.get(self.cookie(headers))  # timeouts checked, `seen` refreshed
        if session is None:
            return None
        try:
            return rules.session_caller(session, await self.users.state(session.user_id))
        except rules.SessionOver:
            await self.sessions.delete(session)
            return None

    def _still_good(self, remembered: _Remembered, now: float) -> bool:
        """Token expiry, or the session's timeouts (a session due for its idle-timeout touch goes to Redis)."""
        if remembered.exp is not None:
            return remembered.exp > now
        session = remembered.caller.session
        return session is not None and now - session.seen < self.sessions.touch_s and \
            now - session.created <= self.sessions.absolute_s

    def _check_limits(self, id_count: int, ip_count: int, now: float) -> None:
        if id_count > self.limits.per_identity or ip_count > self.limits.per_ip:
            raise self.limits.limiter.refusal(now)

    async def _read(self, door: Door, ip: str, now: float, window: int, claims: dict[str, Any] | None,
                    key_hash: str) -> Caller:
        sub = str(claims.get("sub", "")) if claims is not None else ""
        marks = list(self.tokens.revocation_keys(claims)) if claims is not None else []
        marks += [""] * (2 - len(marks))
        limiter = self.limits.limiter
        ip_key = limiter.key(f"ip:{ip}", window) if door.counted else ""
        # The per-identity counter's key around the user id (known in the script only, from the session).
        id_before, _, id_after = limiter.key("id:\x00", window).partition("\x00") if door.counted else ("", "", "")
        raw_session, raw_state, revoked, id_count, ip_count = await self.script(
            keys=[self.sessions.key(key_hash) if key_hash else "", *marks, ip_key],
            args=[sub, self.users.prefix, id_before, id_after, limiter.ttl_s])
        session: BrowserSession | None = None
        if raw_session is not None:
            session = self.sessions.read(key_hash, raw_session)
            sub = session.user_id
        if door.counted:
            ip_estimate = self.counts.learn(ip_key, window, int(ip_count))  # the script counted this request
            id_estimate = self.counts.learn(limiter.key(f"id:{sub}", window), window, int(id_count)) if sub else 0
            self._check_limits(id_estimate, ip_estimate, now)
        if claims is not None:
            client_known = True
            state: UserState | None = None
            if revoked:
                pass
            elif sub.startswith("service:"):
                client_known = await self.tokens.service_client(sub.removeprefix("service:")) is not None
            else:
                state = await self._state(sub, raw_state)
            return rules.token_caller(claims, revoked=bool(revoked), state=state, client_known=client_known)
        if session is None:
            raise rules.sign_in_first()
        try:
            if not rules.session_alive(session, now, idle_s=self.sessions.idle_s, absolute_s=self.sessions.absolute_s):
                raise rules.SessionOver
            return rules.session_caller(session, await self._state(session.user_id, raw_state))
        except rules.SessionOver:
            await self.sessions.delete(session)
            raise

    async def _state(self, user_id: str, raw: bytes | None) -> UserState | None:
        if raw is None:
            return await self.users.state(user_id)  # cache miss: read the database, fill the cache
        return self.users.read(user_id, raw)
