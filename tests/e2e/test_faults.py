"""Fault injection on the event bus: the real redis-server is SIGKILLed while events are being published
(through the outbox) and consumed, then restarted on the same port with its data folder.

Both persistence modes are run: AOF with fsync every second (the embedded runner and compose) and no
persistence (the suite's own server; any Redis that comes back empty). Either way no event is lost,
none is applied twice, and delivery resumes as soon as Redis is back: well before the 30 s after which
XAUTOCLAIM would reclaim an idle entry (the consumer here runs with that production value).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db as dbmod
from shared.bus import MAX_BACKOFF_S, Consumer, RedisStreamBus
from shared.events import Envelope
from shared.events.types import UserSuspended
from shared.outbox import Outbox
from tests.support.faults import KillableRedis

pytestmark = pytest.mark.integration

USER = "tandem.user"
RECLAIM_IDLE_MS = 30_000  # the production default (`*_BUS_CLAIM_IDLE_MS`)
# Generous, and still far below the 30 s reclaim: recovery is bounded by the consumer's retry
# interval (MAX_BACKOFF_S) plus a few rounds, not by wall-clock luck.
RESUME_WITHIN_S = 12.0


@pytest.fixture(params=["aof-everysec", "no-persistence"])
def killable_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KillableRedis]:
    server = KillableRedis(tmp_path / "redis", appendonly=request.param == "aof-everysec")
    yield server
    server.stop()


class Flow:
    """A producer (outbox + bus) and a consumer whose handler applies each event once, in the database."""

    def __init__(self, engine: AsyncEngine, redis: Redis) -> None:
        meta = sa.MetaData()
        self.inbox, self.outbox_table = dbmod.bus_tables(meta)
        self.effects = sa.Table("effects", meta, sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
                                sa.Column("event_id", sa.String(64)), sa.Column("user_id", sa.String(64)))
        self.meta = meta
        self.engine = engine
        self.redis = redis
        self.outbox = Outbox(engine, self.outbox_table, RedisStreamBus(redis, "gateway"), "gateway",
                             poll_interval_s=0.1)
        self.gate_entered = asyncio.Event()
        self.gate_release = asyncio.Event()
        self.calls: list[str] = []
        self.consumer = Consumer(redis, group="sessions", name="c1", streams=[USER], handler=self.handle,
                                 claim_idle_ms=RECLAIM_IDLE_MS, block_ms=200)

    async def handle(self, env: Envelope) -> None:
        user = env.payload(UserSuspended).user_id
        self.calls.append(user)
        async with self.engine.begin() as conn:
            if await dbmod.claim_event(conn, self.inbox, "sessions", env.id):
                await conn.execute(sa.insert(self.effects).values(event_id=env.id, user_id=user))
        if user == "gate" and not self.gate_release.is_set():
            # The effect is committed; the ack comes after Redis was killed (and fails).
            self.gate_entered.set()
            await self.gate_release.wait()

    async def publish(self, *users: str) -> None:
        async with self.engine.begin() as conn:
            for user in users:
                await self.outbox.add(conn, UserSuspended(user_id=user), subject=f"user:{user}")

    async def applied(self) -> list[str]:
        async with self.engine.connect() as conn:
            return [r.user_id for r in await conn.execute(sa.select(self.effects.c.user_id))]


@pytest.fixture
async def flow(killable_redis: KillableRedis, db_url: str) -> AsyncIterator[Flow]:
    engine = dbmod.create_engine(db_url)
    redis = Redis.from_url(killable_redis.url, socket_connect_timeout=1, socket_timeout=5)
    f = Flow(engine, redis)
    async with engine.begin() as conn:
        await conn.run_sync(f.meta.create_all)
    f.outbox.start()
    f.consumer.start()
    try:
        yield f
    finally:
        f.gate_release.set()
        await f.consumer.stop(timeout=5)
        await f.outbox.stop()
        await redis.aclose()
        await engine.dispose()


async def test_redis_killed_mid_flow_loses_nothing_applies_nothing_twice_resumes_at_once(
        flow: Flow, killable_redis: KillableRedis) -> None:
    before = [f"before-{i}" for i in range(10)]
    after_gate = [f"read-{i}" for i in range(8)]  # read with the gate (pending), or not yet read
    during = [f"down-{i}" for i in range(6)]
    later = [f"after-{i}" for i in range(4)]
    await flow.publish(*before, "gate", *after_gate)
    await asyncio.wait_for(flow.gate_entered.wait(), 20)

    killable_redis.kill()
    flow.gate_release.set()  # the handler returns; its ack meets a dead Redis
    await flow.publish(*during)  # staged in the outbox; the relay cannot publish them now
    await asyncio.sleep(0.5)
    killable_redis.restart()
    rounds_at_restart = flow.consumer.rounds
    await flow.publish(*later)

    everything = [*before, "gate", *after_gate, *during, *later]
    loop = asyncio.get_running_loop()
    start = loop.time()
    while sorted(await flow.applied()) != sorted(everything):
        assert loop.time() - start < RESUME_WITHIN_S, (
            f"not delivered after Redis came back: {sorted(set(everything) - set(await flow.applied()))}")
        await asyncio.sleep(0.05)
    applied = await flow.applied()
    assert len(applied) == len(set(applied)) == len(everything), "an event was applied twice"
    assert flow.consumer.recoveries >= 2, "the consumer re-read its own pending entries after the error"
    # Nothing is left waiting for a reclaim: every entry of the group is acknowledged.
    while (await flow.redis.xpending(USER, "sessions"))["pending"]:
        assert loop.time() - start < RESUME_WITHIN_S
        await asyncio.sleep(0.05)
    # Rounds are bounded by the retry interval, not the reclaim idle time (block_ms 200 per idle round).
    assert flow.consumer.rounds - rounds_at_restart < (RESUME_WITHIN_S + MAX_BACKOFF_S) / 0.2 + 10
    if not killable_redis.appendonly:
        assert flow.outbox.republished > 0, "Redis came back empty: the outbox published its kept rows again"

