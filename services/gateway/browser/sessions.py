"""Server-side browser sessions in Redis (backend-for-frontend: the web app never holds a token).

The cookie carries a 256-bit random value; Redis keys use its SHA-256, so a Redis dump does not
hand out live cookies. Each session has a public id (`sid`, forwarded in assertions), a CSRF token,
an idle timeout (checked against `seen`, refreshed at most every `touch_s`) and an absolute one.
This store owns its Redis key names (`session_key`, `user_sessions_key`, `sid_key`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from services.gateway.accounts.credentials import token_hash
from services.gateway.auth.caller import BrowserSession, cookie_value
from shared.clock import EpochClock


def session_key(key_hash: str) -> str:
    """A session, by the SHA-256 of its cookie value."""
    return f"gw:s:{key_hash}"


def user_sessions_key(user_id: str) -> str:
    """The set of a user's sessions (their cookie hashes)."""
    return f"gw:us:{user_id}"


def sid_key(sid: str) -> str:
    """A session's public id, pointing to its cookie hash."""
    return f"gw:sid:{sid}"


class BrowserSessions:
    def __init__(self, redis: Redis, *, idle_s: int, absolute_s: int, clock: EpochClock, cookie_name: str,
                 touch_s: float = 15.0) -> None:
        self.redis = redis
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self.clock = clock
        self.cookie_name = cookie_name
        self.touch_s = min(touch_s, idle_s / 4)
        self.on_end: list[Callable[[str], Awaitable[Any]]] = []  # called with the user id once a session ended
        # Called with the sid once its user signed out of it (its tokens and live sockets end too).
        self.on_logout: list[Callable[[str], Awaitable[Any]]] = []

    def cookie_of(self, headers: Any) -> str | None:
        """The session cookie a request carries, if any."""
        return cookie_value(headers.get("cookie"), self.cookie_name)

    @staticmethod
    def hash(cookie: str) -> str:
        return token_hash(cookie)

    @staticmethod
    def key(key_hash: str) -> str:
        return session_key(key_hash)

    @staticmethod
    def read(key_hash: str, raw: bytes | str) -> BrowserSession:
        """A stored session, typed."""
        data = json.loads(raw)
        return BrowserSession(key=key_hash, user_id=data["uid"], sid=data["sid"], csrf=data["csrf"],
                              created=data["created"], seen=data["seen"], auth_time=data["auth_time"],
                              amr=data["amr"])

    async def create(self, user_id: str, amr: list[str]) -> tuple[str, BrowserSession]:
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        session = BrowserSession(key=token_hash(cookie), user_id=user_id, sid=secrets.token_hex(16),
                                 csrf=secrets.token_urlsafe(32), created=now, seen=now, auth_time=now, amr=amr)
        await self._save(session)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(user_sessions_key(user_id), session.key)
            pipe.expire(user_sessions_key(user_id), self.absolute_s)
            pipe.set(sid_key(session.sid), session.key, ex=self.absolute_s)
            await pipe.execute()
        return cookie, session

    async def _save(self, session: BrowserSession) -> None:
        data: dict[str, Any] = {"uid": session.user_id, "sid": session.sid, "csrf": session.csrf,
                                "created": session.created, "seen": session.seen, "auth_time": session.auth_time,
                                "amr": session.amr}
        ttl = max(1, int(min(self.idle_s, session.created + self.absolute_s - session.seen)) + 1)
        await self.redis.set(session_key(session.key), json.dumps(data), ex=ttl)

    async def get(self, cookie: str | None) -> BrowserSession | None:
        if not cookie or len(cookie) > 128:
            return None
        key = token_hash(cookie)
        raw = await self.redis.get(session_key(key))
        if raw is None:
            return None
        session = self.read(key, raw)
        now = self.clock()
        if now - session.seen > self.idle_s or now - session.created > self.absolute_s:
            await self.delete(session)
            return None
        if now - session.seen >= self.touch_s:
            session.seen = now
            await self._save(session)
        return session

    async def touch(self, session: BrowserSession) -> None:
        """Store the session's `seen` (the idle timeout runs from it)."""
        await self._save(session)

    async def delete(self, session: BrowserSession) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(session_key(session.key), sid_key(session.sid))
            pipe.srem(user_sessions_key(session.user_id), session.key)
            await pipe.execute()
        for ended in self.on_end:
            await ended(session.user_id)

    async def logout(self, session: BrowserSession) -> None:
        """Its user signs out of this session: it ends, and so does whatever was signed in through it."""
        await self.delete(session)
        for ended in self.on_logout:
            await ended(session.sid)

    async def count(self, user_id: str) -> int:
        """How many sessions the user has."""
        return int(await self.redis.scard(user_sessions_key(user_id)))

    async def delete_all(self, user_id: str) -> int:
        members = await self.redis.smembers(user_sessions_key(user_id))
        keys = [k.decode() if isinstance(k, bytes) else k for k in members]
        if keys:
            await self.redis.delete(*[session_key(k) for k in keys])
        await self.redis.delete(user_sessions_key(user_id))
        for ended in self.on_end:
            await ended(user_id)
        return len(keys)

    async def by_sid(self, sid: str) -> bool:
        return bool(await self.redis.exists(sid_key(sid)))
