"""Event bus on Redis Streams: publish with safe trimming, consume with consumer groups.

Delivery is at-least-once; handlers get exactly-once *effects* by recording the event id in the
same database transaction as the effect (`shared.db.claim_event`). The consumer also remembers
handled ids in Redis so an event acknowledged late is not handled twice.

Consumer loop, per round:
1. on start, and again after each of its own Redis errors, all its own pending entries (a restart
   loses nothing, and entries it read or handled just before Redis went away are taken up as soon
   as Redis is back, not after `claim_idle_ms`);
2. entries other consumers left pending longer than `claim_idle_ms` (XAUTOCLAIM): crashed
   consumers and failed attempts, which is how retries happen;
3. new entries (XREADGROUP >).
An entry delivered more than `max_deliveries` times, or failing on its last allowed delivery, goes
to `<stream>.dead` with its last error, and is acknowledged. Shutdown finishes the entry in hand;
entries read but not started stay pending and are reclaimed by another consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from shared.events import STREAMS, Envelope, Event, decode_envelope, encode_envelope, new_envelope, stream_for
from shared.logging import get_logger

log = get_logger("tandem.bus")

Handler = Callable[[Envelope], Awaitable[None]]
FIELD = "envelope"
MAX_BACKOFF_S = 1.0  # longest wait between retries while Redis is down: how late delivery can resume
EPOCH_KEY = "tandem:bus:epoch"


class EventBus(Protocol):
    async def publish(self, payload: Event, *, subject: str = "", event_id: str | None = None) -> str: ...

    async def publish_envelope(self, envelope: Envelope) -> str: ...


def _next_id(entry_id: str) -> str:
    ms, seq = entry_id.split("-")
    return f"{ms}-{int(seq) + 1}"


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
        current = _s(previous) if previous is not None else mine
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
        name = _s(info["name"])
        if int(info["pending"]) > 0:
            summary = await redis.xpending(stream, name)
            floors.append(_s(summary["min"]))
        else:
            floors.append(_next_id(_s(info["last-delivered-id"])))
    return min(floors, key=_id_key)


@dataclass
class Delivery:
    stream: str
    entry_id: str
    fields: dict[bytes, bytes] | None
    times_delivered: int


class Consumer:
    """One consumer in a consumer group, reading one or more streams."""

    def __init__(
        self,
        redis: Redis,
        *,
        group: str,
        name: str,
        streams: Sequence[str],
        handler: Handler,
        max_deliveries: int = 5,
        claim_idle_ms: int = 30_000,
        block_ms: int = 1_000,
        batch: int = 16,
        done_ttl_s: int = 7 * 24 * 3600,
    ) -> None:
        self.redis = redis
        self.group = group
        self.name = name
        self.streams = list(streams)
        self.handler = handler
        self.max_deliveries = max_deliveries
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.batch = batch
        self.done_ttl_s = done_ttl_s
        self._stopping = asyncio.Event()
        self._recovered = False
        self._last_reclaim = 0.0
        self.rounds = 0  # rounds run (tests bound recovery by rounds, not by wall-clock time)
        self.recoveries = 0  # times its own pending entries were re-read
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def setup(self) -> None:
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name=f"consumer:{self.group}:{self.name}")
        return self._task

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the entry in hand, then return; unstarted entries stay pending for others."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await asyncio.wait_for(self._task, timeout)
                except TimeoutError:
                    log.warning("bus.consumer_stop_timeout", group=self.group, consumer=self.name)

    async def run(self) -> None:
        """Consume until `stop()`; Redis being down (at start or later) means retrying, not dying.

        After an error of its own connection the consumer cannot know what Redis kept: an ack may
        have been lost (the entry stays pending to this consumer), a read may have been recorded
        without the reply arriving, or Redis may have restarted without its data (groups gone). So
        it re-creates its groups (a no-op when they exist) and re-reads all its own pending entries
        before anything else; handlers are idempotent, so an entry handled twice changes nothing.
        Retries are at most `MAX_BACKOFF_S` apart, so delivery resumes within that of Redis's return.
        """
        ready = False
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                if not ready:
                    await self.setup()
                    ready = True
                await self.run_once()
                backoff = 0.1
            except (RedisError, OSError) as exc:
                log.warning("bus.redis_error", group=self.group, exc_type=type(exc).__name__)
                ready = False
                self._recovered = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    # -- one round ---------------------------------------------------------------------------------

    async def run_once(self, *, block: bool = True) -> int:
        """Recover, reclaim, then read new entries; returns how many entries were handled."""
        self.rounds += 1
        handled = 0
        if not self._recovered:
            for stream in self.streams:
                handled += await self._recover(stream)
            self._recovered = True
            self.recoveries += 1
        # Reclaiming scans the pending list: do it a few times per idle period, not every round.
        now = time.monotonic()
        if now - self._last_reclaim >= self.claim_idle_ms / 4000:
            self._last_reclaim = now
            for stream in self.streams:
                handled += await self._process(await self._reclaim(stream))
        if self._stopping.is_set():
            return handled
        handled += await self._process(await self._read_new(block))
        return handled

    async def _recover(self, stream: str) -> int:
        """All of this consumer's pending entries of `stream`, batch by batch (not only the first)."""
        handled = 0
        after = "0"
        while not self._stopping.is_set():
            deliveries = await self._read(stream, after)
            if not deliveries:
                break
            handled += await self._process(deliveries)
            after = max((d.entry_id for d in deliveries), key=_id_key)
        return handled

    async def _read(self, stream: str, start: str) -> list[Delivery]:
        reply: Any = await self.redis.xreadgroup(self.group, self.name, {stream: start}, count=self.batch)
        entries = [(stream, _s(eid), fields) for _, batch in reply for eid, fields in batch]
        return await self._with_counts(entries)

    async def _read_new(self, block: bool) -> list[Delivery]:
        reply: Any = await self.redis.xreadgroup(
            self.group, self.name, dict.fromkeys(self.streams, ">"), count=self.batch,
            block=self.block_ms if block else None,
        )
        if not reply:
            return []
        return [Delivery(_s(stream), _s(eid), fields, 1) for stream, batch in reply for eid, fields in batch]

    async def _reclaim(self, stream: str) -> list[Delivery]:
        reply = await self.redis.xautoclaim(
            stream, self.group, self.name, min_idle_time=self.claim_idle_ms, start_id="0-0", count=self.batch
        )
        claimed = reply[1]
        deleted = reply[2] if len(reply) > 2 else []
        entries = [(stream, _s(eid), fields) for eid, fields in claimed]
        for eid in deleted:  # trimmed away while pending: nothing left to deliver
            log.warning("bus.pending_entry_deleted", stream=stream, group=self.group, entry=_s(eid))
        return await self._with_counts(entries)

    async def _with_counts(self, entries: list[tuple[str, str, Any]]) -> list[Delivery]:
        if not entries:
            return []
        stream = entries[0][0]
        ids = [eid for _, eid, _ in entries]
        pending = await self.redis.xpending_range(
            stream, self.group, min=min(ids, key=_id_key), max=max(ids, key=_id_key), count=len(ids) * 4 + 16
        )
        counts = {_s(p["message_id"]): int(p["times_delivered"]) for p in pending}
        return [Delivery(s, eid, fields, counts.get(eid, 1)) for s, eid, fields in entries]

    async def _process(self, deliveries: list[Delivery]) -> int:
        if not deliveries:
            return 0
        done = await self._already_done(deliveries)
        handled = 0
        for delivery in deliveries:
            if self._stopping.is_set() and handled:
                break  # the rest stay pending; another consumer reclaims them
            await self._deliver(delivery, done)
            handled += 1
        return handled

    async def _already_done(self, deliveries: list[Delivery]) -> set[str]:
        """Event ids of this batch that the group already handled (one round trip per batch)."""
        ids: list[str] = []
        for d in deliveries:
            raw = d.fields.get(FIELD.encode()) if d.fields else None
            if raw:
                try:
                    ids.append(decode_envelope(raw).id)
                except msgspec.DecodeError:
                    continue
        if not ids:
            return set()
        flags = await self.redis.mget([self._done_key(i) for i in ids])
        return {i for i, flag in zip(ids, flags, strict=True) if flag is not None}

    # -- one entry ---------------------------------------------------------------------------------

    def _errors_key(self, stream: str) -> str:
        return f"tandem:bus:errors:{stream}:{self.group}"

    def _done_key(self, event_id: str) -> str:
        return f"tandem:bus:done:{self.group}:{event_id}"

    async def _deliver(self, d: Delivery, done: set[str]) -> None:
        if not d.fields or FIELD.encode() not in d.fields:
            await self.redis.xack(d.stream, self.group, d.entry_id)
            return
        raw = d.fields[FIELD.encode()]
        try:
            envelope = decode_envelope(raw)
        except msgspec.DecodeError as exc:
            await self._dead_letter(d, raw, f"malformed envelope: {exc}")
            return
        if d.times_delivered > self.max_deliveries:
            last = await self.redis.hget(self._errors_key(d.stream), d.entry_id)
            reason = _s(last) if last else f"not acknowledged after {d.times_delivered - 1} deliveries"
            await self._dead_letter(d, raw, reason)
            return
        if envelope.id in done:
            await self.redis.xack(d.stream, self.group, d.entry_id)
            return
        try:
            await self.handler(envelope)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
            # The type only: an exception's text may carry what it failed on (a database error quotes its
            # statement's parameters), and dead letters and the error hash live in Redis for days.
            error = type(exc).__name__
            log.warning("bus.handler_failed", stream=d.stream, group=self.group, event_type=envelope.type,
                        event_id=envelope.id, attempt=d.times_delivered, exc_type=type(exc).__name__)
            if d.times_delivered >= self.max_deliveries:
                await self._dead_letter(d, raw, error)
            else:
                await self.redis.hset(self._errors_key(d.stream), d.entry_id, error)
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._done_key(envelope.id), b"1", ex=self.done_ttl_s)
            pipe.xack(d.stream, self.group, d.entry_id)
            if d.times_delivered > 1:  # only a retried entry can have an error recorded
                pipe.hdel(self._errors_key(d.stream), d.entry_id)
            await pipe.execute()

    async def _dead_letter(self, d: Delivery, raw: bytes, error: str) -> None:
        dead = f"{d.stream}.dead"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dead, {
                "stream": d.stream, "group": self.group, "entry_id": d.entry_id,
                "deliveries": str(d.times_delivered), "error": error,
                "dead_at": datetime.now(UTC).isoformat(), FIELD: raw,
            })
            pipe.xack(d.stream, self.group, d.entry_id)
            pipe.hdel(self._errors_key(d.stream), d.entry_id)
            await pipe.execute()
        log.error("bus.dead_lettered", stream=d.stream, group=self.group, entry=d.entry_id,
                  deliveries=d.times_delivered)


async def dead_letters(redis: Redis, stream: str, count: int = 100) -> list[dict[str, str]]:
    """Read a dead-letter stream (operators inspect and replay from it)."""
    rows: Any = await redis.xrange(f"{stream}.dead", count=count)
    return [{_s(k): _s(v) for k, v in fields.items()} | {"dead_id": _s(eid)} for eid, fields in rows]


async def replay_dead_letter(redis: Redis, stream: str, dead_id: str) -> str:
    """Put a dead-lettered envelope back on its stream (same event id: handlers stay idempotent)."""
    rows: Any = await redis.xrange(f"{stream}.dead", min=dead_id, max=dead_id)
    if not rows:
        raise LookupError(dead_id)
    fields = rows[0][1]
    new_id = await redis.xadd(stream, {FIELD: fields[FIELD.encode()]})
    await redis.xdel(f"{stream}.dead", dead_id)
    return _s(new_id)
