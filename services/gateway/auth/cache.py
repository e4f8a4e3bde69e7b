"""Revocations fan out to every gateway instance over Redis pub/sub (channel `gw:revoke`).

Messages: `user:<id>` (suspension, logout everywhere: live WebSockets close and remembered sign-ins
drop), `sid:<id>` (one browser session ended: its WebSockets close), `auth:<id>` (anything else about the
user's sign-in changed: roles, status, one session or token ended: remembered sign-ins drop). Whoever
changes the state writes Redis / the database first and announces after, so an instance that reads again
after the announcement sees the change.

`AuthCache` is the memory of recently checked credentials in front of `auth.rules` (see `auth.service`). It forgets a
user's entries the moment this instance announces a change and when another instance's announcement
arrives; a `generation` counter stops a check that started before an announcement from being remembered
after it. While the subscription is down, it remembers nothing.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

CHANNEL = "gw:revoke"
MAX_ENTRIES = 20_000


class AuthCache:
    def __init__(self, redis: Redis, ttl_s: float) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.generation = 0
        self.subscribed = False
        self._entries: dict[str, tuple[float, str, Any]] = {}  # key -> (remembered at, user id, value)

    # -- reading and remembering ------------------------------------------------------------------------

    def get(self, key: str, now: float) -> Any | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if not self.subscribed or now - hit[0] >= self.ttl_s or now < hit[0]:
            del self._entries[key]
            return None
        return hit[2]

    def put(self, key: str, user_id: str, value: Any, now: float, generation: int) -> None:
        """Remember `value` unless something was announced since `generation` was read."""
        if self.ttl_s <= 0 or not self.subscribed or generation != self.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (now, user_id, value)

    # -- forgetting ----------------------------------------------------------------------------------

    def forget_user(self, user_id: str) -> None:
        self.generation += 1
        for key in [k for k, (_, uid, _) in self._entries.items() if uid == user_id]:
            del self._entries[key]

    def forget_all(self) -> None:
        self.generation += 1
        self._entries.clear()

    async def changed(self, user_id: str) -> None:
        """Announce a change to `user_id`'s sign-in: here at once, to other instances through Redis."""
        self.forget_user(user_id)
        await self.redis.publish(CHANNEL, f"auth:{user_id}")

    def on_message(self, message: str) -> None:
        kind, _, ident = message.partition(":")
        if kind in ("user", "auth"):
            self.forget_user(ident)

    def on_subscription(self, up: bool) -> None:
        """Anything may have been missed while the subscription was down: start empty either way."""
        self.forget_all()
        self.subscribed = up
