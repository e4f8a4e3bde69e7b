"""Live proxied WebSockets, closed the moment their user or browser session is revoked.

The internal services also cut sockets on `user.suspended`; this is the gateway's own guarantee, and it
covers logout and logout-everywhere too. Revocations fan out to every gateway instance over Redis
pub/sub (channel `gw:revoke`, messages `user:<id>` or `sid:<id>`, optionally followed by `;<cause>`),
each closing its own relays. The cause (`suspended`; otherwise `revoked`) travels on to the service in
the close, so sessions can name it in the consent ledger without waiting for the `user.suspended` event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from redis.asyncio import Redis

from services.gateway.auth.cache import CHANNEL
from shared.logging import get_logger
from shared.tasks import cancel

log = get_logger("tandem.gateway.live")


DEFAULT_CAUSE = "revoked"
CAUSES = frozenset({DEFAULT_CAUSE, "suspended"})


class Revocation:
    """Fires when a socket's user or session is revoked, with the first cause announced."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.cause = DEFAULT_CAUSE

    def fire(self, cause: str) -> None:
        if not self._event.is_set():
            self.cause = cause
            self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


class LiveSockets:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._by_key: dict[str, set[Revocation]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        # Others that act on the same announcements (the proxy's AuthCache): each message, and the
        # subscription going up (True) or down (False).
        self.on_message: list[Callable[[str], None]] = []
        self.on_subscription: list[Callable[[bool], None]] = []

    @contextlib.contextmanager
    def track(self, user_id: str | None, sid: str | None) -> Iterator[Revocation]:
        """What fires when this socket's user or session is revoked."""
        revoked = Revocation()
        keys = [k for k in (f"user:{user_id}" if user_id else "", f"sid:{sid}" if sid else "") if k]
        for key in keys:
            self._by_key.setdefault(key, set()).add(revoked)
        try:
            yield revoked
        finally:
            for key in keys:
                members = self._by_key.get(key)
                if members is not None:
                    members.discard(revoked)
                    if not members:
                        del self._by_key[key]

    async def revoke_user(self, user_id: str) -> None:
        await self.redis.publish(CHANNEL, f"user:{user_id}")

    async def suspend_user(self, user_id: str) -> None:
        """Like `revoke_user`, and the relays tell the service the cause. Announced before the general
        revocation, which then finds every socket already closing."""
        await self.redis.publish(CHANNEL, f"user:{user_id};suspended")

    async def revoke_sid(self, sid: str) -> None:
        await self.redis.publish(CHANNEL, f"sid:{sid}")

    async def _reconnected(self, _connection: object) -> None:
        self._subscription(True)

    def _subscription(self, up: bool) -> None:
        for listener in self.on_subscription:
            listener(up)

    def _fire(self, key: str, cause: str) -> None:
        for revocation in self._by_key.get(key, ()):
            revocation.fire(cause)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="gateway-live-sockets")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 5)

    async def stop(self) -> None:
        await cancel(self._task)

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    if pubsub.connection is not None:
                        # redis-py reconnects and re-subscribes by itself: whatever was announced in
                        # between is lost, so listeners start over then too.
                        pubsub.connection.register_connect_callback(self._reconnected)
                    self._subscription(True)
                    self._ready.set()
                    backoff = 0.5
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            data = message["data"]
                            text = data.decode() if isinstance(data, bytes) else str(data)
                            key, _, cause = text.partition(";")
                            self._fire(key, cause if cause in CAUSES else DEFAULT_CAUSE)
                            for listener in self.on_message:
                                listener(key)
            except asyncio.CancelledError:
                self._subscription(False)
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: retry; sockets stay until it is back
                self._subscription(False)
                log.warning("live.subscribe_failed", exc_type=type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
