"""Migrations, the inbox (exactly-once effects) and the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.records.adapters.db import inbox, outbox
from shared import db as dbmod
from shared.bus import Consumer, RedisStreamBus
from shared.events import Envelope
from shared.events.types import RecordCreated
from shared.outbox import Outbox

pytestmark = pytest.mark.integration

MIGRATIONS = Path("services/records/migrations")


async def test_migrations_apply_twice_and_claim_event_is_idempotent(db_url: str) -> None:
    engine = dbmod.create_engine(db_url)
    try:
        await dbmod.upgrade(engine, MIGRATIONS, lock_key="records")
        await dbmod.upgrade(engine, MIGRATIONS, lock_key="records")  # idempotent
        async with engine.begin() as conn:
            assert await dbmod.claim_event(conn, inbox, "records", "evt-1") is True
        async with engine.begin() as conn:
            assert await dbmod.claim_event(conn, inbox, "records", "evt-1") is False
            assert await dbmod.claim_event(conn, inbox, "gateway", "evt-1") is True
    finally:
        await engine.dispose()


async def test_outbox_publishes_after_commit_and_not_after_rollback(db_url: str, redis: Redis) -> None:
    engine = dbmod.create_engine(db_url)
    try:
        await dbmod.upgrade(engine, MIGRATIONS, lock_key="records")
        box = Outbox(engine, outbox, RedisStreamBus(redis, "records"), "records")
        async with engine.begin() as conn:
            kept = await box.add(conn, RecordCreated(record_id="r1", pairing_id="p1", kind="note"))
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await box.add(conn, RecordCreated(record_id="r2", pairing_id="p1", kind="note"))
                raise RuntimeError("the change failed")
        assert await box.relay_once() == 1
        assert await box.relay_once() == 0
        entries = await redis.xrange("tandem.record")
        assert len(entries) == 1
        got: list[Envelope] = []

        async def handle(env: Envelope) -> None:
            got.append(env)

        consumer = Consumer(redis, group="gateway", name="g", streams=["tandem.record"], handler=handle)
        await consumer.run_once(block=False)
        assert [e.id for e in got] == [kept.id]
        async with engine.connect() as conn:
            published = (await conn.execute(sa.select(outbox.c.published_at))).scalar_one()
        assert published is not None
    finally:
        await engine.dispose()


async def test_outbox_relay_retries_when_redis_is_down(db_url: str, redis: Redis) -> None:
    engine = dbmod.create_engine(db_url)
    try:
        await dbmod.upgrade(engine, MIGRATIONS)
        dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        box = Outbox(engine, outbox, RedisStreamBus(dead, "records"), "records", poll_interval_s=0.05)
        async with engine.begin() as conn:
            await box.add(conn, RecordCreated(record_id="r1", pairing_id="p1", kind="note"))
        box.start()
        await asyncio.sleep(0.3)
        await box.stop()
        await dead.aclose()
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                       .where(outbox.c.published_at.is_(None)))).scalar_one() == 1
        # Redis is back: the same row goes out.
        box = Outbox(engine, outbox, RedisStreamBus(redis, "records"), "records")
        assert await box.relay_once() == 1
    finally:
        await engine.dispose()
