"""Publishing on Redis Streams with safe trimming (never past an entry some group still needs)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from shared.bus.ids import FIELD, id_key, next_id, text
from shared.events import STREAMS, Envelope, Event, encode_envelope, new_envelope, stream_for

EPOCH_KEY = "tandem:bus:epoch"


class EventBus(Protocol):
    async def publish(self, payload: Event, *, subject: str = "", event_id: str | None = None) -> str: ...

    async def publish_envelope(self, envelope: Envelope) -> str: ...


class RedisStreamBus:
    """Publisher. Creates every declared consumer group before the first publish on a stream."""

    def __init__(self, redis: Redis, source: str, *, maxlen: int = 10_000, trim_every: int = 100) -> None:
        self.redis = redis
        self.source = source
        self.maxlen = maxlen
        self.trim_every = trim_every
        self._ready: set[str] = set()
        self._published = 0
        self._epoch: str | None = None

    async def epoch(self) -> str:
        """The id of Redis's current data set: a random marker set by the first publisher to miss it.

        A Redis that restarted without its data (no persistence, a lost volume) has no marker, so the
        value changes: the outbox then publishes again what it had already published (consumers are
        idempotent), and this publisher re-creates the consumer groups before its next publish.
        """
        mine = secrets.token_hex(8)
        previous = await self.redis.set(EPOCH_KEY, mine, nx=True, get=True)
        current = text(previous) if previous is not None else mine
        if current != self._epoch:
            self._ready.clear()
            self._epoch = current
        return current

    async def ensure_groups(self, stream: str, groups: Iterable[str] | None = None) -> None:
        names = tuple(groups) if groups is not None else STREAMS[stream].groups
        for group in names:
            try:
                await self.redis.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._ready.add(stream)

    async def publish(self, payload: Event, *, subject: str = "", event_id: str | None = None) -> str:
        envelope = new_envelope(payload, source=self.source, subject=subject, event_id=event_id)
        return await self.publish_envelope(envelope)

    async def publish_envelope(self, envelope: Envelope) -> str:
        stream = stream_for(envelope.type).name
        try:
            if stream not in self._ready:
                await self.ensure_groups(stream)
            await self.redis.xadd(stream, {FIELD: encode_envelope(envelope)})
        except (RedisError, OSError):
            # Redis may come back without its data: make sure the groups exist before the next publish.
            self._ready.clear()
            raise
        self._published += 1
        if self.trim_every and self._published % self.trim_every == 0:
            await self.trim(stream)
        return envelope.id

    async def trim(self, stream: str) -> int:
        """Drop entries every group has acknowledged, once the stream is longer than `maxlen`.

        MAXLEN trimming would drop pending entries (they read back as nil); instead the cut is the
        oldest id some group still needs: its oldest pending entry, or the one after the last it read.
        """
        if await self.redis.xlen(stream) <= self.maxlen:
            return 0
        floor = await safe_trim_point(self.redis, stream)
        if floor is None:
            return 0
        return int(await self.redis.xtrim(stream, minid=floor, approximate=False))


async def safe_trim_point(redis: Redis, stream: str) -> str | None:
    """The smallest id any consumer group of `stream` may still need (None: no groups, keep all)."""
    groups = await redis.xinfo_groups(stream)
    if not groups:
        return None
    floors: list[str] = []
    for info in groups:
        name = text(info["name"])
        if int(info["pending"]) > 0:
            summary = await redis.xpending(stream, name)
            floors.append(text(summary["min"]))
        else:
            floors.append(next_id(text(info["last-delivered-id"])))
    return min(floors, key=id_key)
