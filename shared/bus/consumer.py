"""Consuming from Redis Streams with consumer groups: retries, reclaiming, recovery, dead letters.

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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from shared.bus.ids import FIELD, id_key, text
from shared.events import Envelope, decode_envelope
from shared.logging import get_logger

log = get_logger("tandem.bus")

Handler = Callable[[Envelope], Awaitable[None]]
MAX_BACKOFF_S = 1.0  # longest wait between retries while Redis is down: how late delivery can resume


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
            after = max((d.entry_id for d in deliveries), key=id_key)
        return handled

    async def _read(self, stream: str, start: str) -> list[Delivery]:
        reply: Any = await self.redis.xreadgroup(self.group, self.name, {stream: start}, count=self.batch)
        entries = [(stream, text(eid), fields) for _, batch in reply for eid, fields in batch]
        return await self._with_counts(entries)

    async def _read_new(self, block: bool) -> list[Delivery]:
        reply: Any = await self.redis.xreadgroup(
            self.group, self.name, dict.fromkeys(self.streams, ">"), count=self.batch,
            block=self.block_ms if block else None,
        )
        if not reply:
            return []
        return [Delivery(text(stream), text(eid), fields, 1) for stream, batch in reply for eid, fields in batch]

    async def _reclaim(self, stream: str) -> list[Delivery]:
        reply = await self.redis.xautoclaim(
            stream, self.group, self.name, min_idle_time=self.claim_idle_ms, start_id="0-0", count=self.batch
        )
        claimed = reply[1]
        deleted = reply[2] if len(reply) > 2 else []
        entries = [(stream, text(eid), fields) for eid, fields in claimed]
        for eid in deleted:  # trimmed away while pending: nothing left to deliver
            log.warning("bus.pending_entry_deleted", stream=stream, group=self.group, entry=text(eid))
        return await self._with_counts(entries)

    async def _with_counts(self, entries: list[tuple[str, str, Any]]) -> list[Delivery]:
        if not entries:
            return []
        stream = entries[0][0]
        ids = [eid for _, eid, _ in entries]
        pending = await self.redis.xpending_range(
            stream, self.group, min=min(ids, key=id_key), max=max(ids, key=id_key), count=len(ids) * 4 + 16
        )
        counts = {text(p["message_id"]): int(p["times_delivered"]) for p in pending}
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
            reason = text(last) if last else f"not acknowledged after {d.times_delivered - 1} deliveries"
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
