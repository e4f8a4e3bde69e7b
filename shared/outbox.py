"""Transactional outbox: events are written in the same transaction as the change they describe and
published by a relay, so a crash between commit and XADD loses nothing. A row may be published twice
(crash after XADD, before marking it): consumers are idempotent on the event id.

Redis losing its data (restarted without persistence) would lose what was published but not yet
consumed: each relay round first reads the bus's epoch marker (`RedisStreamBus.epoch`), and when it
changed, every row still kept (`keep_published`) is published again. A failed round (Redis down)
leaves its rows unmarked, and the relay retries within `poll_interval_s`."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.bus import EventBus
from shared.events import Envelope, Event, decode_envelope, encode_envelope, new_envelope
from shared.logging import get_logger

log = get_logger("tandem.outbox")


class Outbox:
    def __init__(self, engine: AsyncEngine, table: sa.Table, bus: EventBus, source: str, *,
                 poll_interval_s: float = 1.0, keep_published: timedelta = timedelta(days=1)) -> None:
        self.engine = engine
        self.table = table
        self.bus = bus
        self.source = source
        self.poll_interval_s = poll_interval_s
        self.keep_published = keep_published
        self._epoch: str | None = None
        self.republished = 0  # rows published again after Redis lost its data
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def add(self, conn: AsyncConnection | AsyncSession, payload: Event, *, subject: str = "") -> Envelope:
        """Stage an event inside the caller's transaction; it is published after commit."""
        envelope = new_envelope(payload, source=self.source, subject=subject)
        await conn.execute(sa.insert(self.table).values(
            event_id=envelope.id, envelope=encode_envelope(envelope), created_at=datetime.now(UTC)))
        self._wake.set()
        return envelope

    async def relay_once(self, limit: int = 200) -> int:
        """Publish staged events in order; returns how many were published."""
        published = 0
        async with self.engine.begin() as conn:
            epoch = await self._check_epoch(conn)
            rows = (await conn.execute(
                sa.select(self.table.c.seq, self.table.c.envelope)
                .where(self.table.c.published_at.is_(None))
                .order_by(self.table.c.seq).limit(limit)
                .with_for_update(skip_locked=True)
            )).all()
            for seq, raw in rows:
                await self.bus.publish_envelope(decode_envelope(raw))
                await conn.execute(sa.update(self.table).where(self.table.c.seq == seq)
                                   .values(published_at=datetime.now(UTC)))
                published += 1
            cutoff = datetime.now(UTC) - self.keep_published
            await conn.execute(sa.delete(self.table).where(self.table.c.published_at < cutoff))
        self._epoch = epoch or self._epoch  # only once the reset (if any) has committed
        return published

    async def _check_epoch(self, conn: AsyncConnection) -> str | None:
        epoch_of = getattr(self.bus, "epoch", None)
        if epoch_of is None:
            return None
        epoch: str = await epoch_of()
        if self._epoch is not None and epoch != self._epoch:
            result = await conn.execute(sa.update(self.table).where(self.table.c.published_at.is_not(None))
                                        .values(published_at=None))
            count = int(result.rowcount or 0)
            self.republished += count
            log.warning("outbox.redis_data_lost", source=self.source, republish=count)
        return epoch

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox:{self.source}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                while await self.relay_once():
                    pass
            except Exception as exc:  # noqa: BLE001 - Redis or DB hiccup: keep the rows, retry later
                log.warning("outbox.relay_failed", exc_type=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
            self._wake.clear()
