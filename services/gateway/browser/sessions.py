"""Server-side browser sessions in Redis (backend-for-frontend: the web app never holds a token).

The cookie carries a 256-bit random value; Redis keys use its SHA-256, so a Redis dump does not
hand out live cookies. Each session has a public id (`sid`, forwarded in assertions), a CSRF token,
an idle timeout (checked against `seen`, refreshed at most every `touch_s`) and an absolute one.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from services.gateway.accounts.credentials import token_hash
from services.gateway.keys.service import Clock

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


@dataclass
class BrowserSession:
    key: str  # SHA-256 of the cookie value
    user_id: str
    sid: str
    csrf: str
    created: float
    seen: float
    auth_time: float
    amr: list[str]

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf.encode(), (presented or "").encode())


class BrowserSessions:
    def __init__(self, redis: Redis, *, idle_s: int, absolute_s: int, clock: Clock, touch_s: float = 15.0) -> None:
        self.redis = redis
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self.clock = clock
        self.touch_s = min(touch_s, idle_s / 4)
        self.on_end: list[Callable[[str], Awaitable[Any]]] = []  # called with the user id once a session ended

    async def create(self, user_id: str, amr: list[str]) -> tuple[str, BrowserSession]:
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        session = BrowserSession(key=token_hash(cookie), user_id=user_id, sid=secrets.token_hex(16),
                                 csrf=secrets.token_urlsafe(32), created=now, seen=now, auth_time=now, amr=amr)
        await self._save(session)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(f"gw:us:{user_id}", session.key)
            pipe.expire(f"gw:us:{user_id}", self.absolute_s)
            pipe.set(f"gw:sid:{session.sid}", session.key, ex=self.absolute_s)
            await pipe.execute()
        return cookie, session

    async def _save(self, session: BrowserSession) -> None:
        data: dict[str, Any] = {"uid": session.user_id, "sid": session.sid, "csrf": session.csrf,
                                "created": session.created, "seen": session.seen, "auth_time": session.auth_time,
                                "amr": session.amr}
        ttl = max(1, int(min(self.idle_s, session.created + self.absolute_s - session.seen)) + 1)
        await self.redis.set(f"gw:s:{session.key}", json.dumps(data), ex=ttl)

    async def get(self, cookie: str | None) -> BrowserSession | None:
        if not cookie or len(cookie) > 128:
            return None
        key = token_hash(cookie)
        raw = await self.redis.get(f"gw:s:{key}")
        if raw is None:
            return None
        data = json.loads(raw)
        session = BrowserSession(key=key, user_id=data["uid"], sid=data["sid"], csrf=data["csrf"],
                                 created=data["created"], seen=data["seen"], auth_time=data["auth_time"],
                                 amr=data["amr"])
        now = self.clock()
        if now - session.seen > self.idle_s or now - session.created > self.absolute_s:
            await self.delete(session)
            return None
        if now - session.seen >= self.touch_s:
            session.seen = now
            await self._save(session)
        return session

    async def delete(self, session: BrowserSession) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(f"gw:s:{session.key}", f"gw:sid:{session.sid}")
            pipe.srem(f"gw:us:{session.user_id}", session.key)
            await pipe.execute()
        for ended in self.on_end:
            await ended(session.user_id)

    async def delete_all(self, user_id: str) -> int:
        keys = [k.decode() if isinstance(k, bytes) else k for k in await self.redis.smembers(f"gw:us:{user_id}")]
        if keys:
            await self.redis.delete(*[f"gw:s:{k}" for k in keys])
        await self.redis.delete(f"gw:us:{user_id}")
        for ended in self.on_end:
            await ended(user_id)
        return len(keys)

    async def by_sid(self, sid: str) -> bool:
        return bool(await self.redis.exists(f"gw:sid:{sid}"))
