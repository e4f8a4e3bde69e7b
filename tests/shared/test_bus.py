"""The Redis Streams bus against a real redis-server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from shared import db as dbmod
from shared.bus import Consumer, RedisStreamBus, dead_letters, replay_dead_letter, safe_trim_point
from shared.events import Envelope
from shared.events.types import PairingEnded, UserSuspended

pytestmark = pytest.mark.integration

USER = "tandem.user"


def consumer(redis: Redis, handler, *, name: str = "c1", group: str = "sessions", **kw) -> Consumer:  # type: ignore[no-untyped-def]
    kw.setdefault("claim_idle_ms", 50)
    kw.setdefault("block_ms", 50)
    kw.setdefault("max_deliveries", 3)
    return Consumer(redis, group=group, name=name, streams=[USER], handler=handler, **kw)


async def drain(c: Consumer, rounds: int = 20, pause: float = 0.06) -> None:
    for _ in range(rounds):
        await c.run_once(block=False)
        await asyncio.sleep(pause)


async def test_publish_creates_declared_groups_and_consumer_reads(redis: Redis) -> None:
    bus = RedisStreamBus(redis, "gateway")
    await bus.publish(UserSuspended(user_id="u1"), subject="user:u1")
    groups = {g["name"].decode() for g in await redis.xinfo_groups(USER)}
    assert groups == {"sessions", "records", "reports"}
    seen: list[Envelope] = []

    async def handle(env: Envelope) -> None:
        seen.append(env)

    c = consumer(redis, handle)
    await c.setup()
    await c.run_once(block=False)
    assert [e.payload(UserSuspended).user_id for e in seen] == ["u1"]
    assert seen[0].source == "gateway" and seen[0].type == "user.suspended" and seen[0].version == 1
    assert (await redis.xpending(USER, "sessions"))["pending"] == 0


async def test_crash_mid_message_redelivers_and_effect_happens_once(redis: Redis, db_url: str) -> None:
    """The handler commits its effect, then crashes before the ack: the redelivery is a no-op."""
    engine = dbmod.create_engine(db_url)
    meta = sa.MetaData()
    inbox, _ = dbmod.bus_tables(meta)
    effects = sa.Table("effects", meta, sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("user_id", sa.String))
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    attempts = 0

    async def handle(env: Envelope) -> None:
        nonlocal attempts
        attempts += 1
        async with engine.begin() as conn:
            if await dbmod.claim_event(conn, inbox, "sessions", env.id):
                await conn.execute(sa.insert(effects).values(user_id=env.payload(UserSuspended).user_id))
        if attempts == 1:
            raise RuntimeError("crash after the effect, before the ack")

    bus = RedisStreamBus(redis, "gateway")
    await bus.publish(UserSuspended(user_id="u-crash"))
    c = consumer(redis, handle)
    await c.setup()
    await drain(c)
    assert attempts == 2
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(effects.c.user_id))).all()
    assert rows == [("u-crash",)]
    assert (await redis.xpending(USER, "sessions"))["pending"] == 0
    await engine.dispose()


async def test_crashed_consumer_message_is_reclaimed_by_another(redis: Redis) -> None:
    bus = RedisStreamBus(redis, "gateway")
    await bus.publish(UserSuspended(user_id="u-lost"))
    # consumer A reads the entry and dies without acking (simulated by reading directly)
    await redis.xreadgroup("sessions", "dead-consumer", {USER: ">"}, count=10)
    seen: list[str] = []

    async def handle(env: Envelope) -> None:
        seen.append(env.payload(UserSuspended).user_id)

    b = consumer(redis, handle, name="survivor")
    await b.setup()
    await drain(b, rounds=5)
    assert seen == ["u-lost"]


async def test_poison_message_goes_to_dead_letter_after_n_tries(redis: Redis) -> None:
    bus = RedisStreamBus(redis, "gateway")
    await bus.publish(UserSuspended(user_id="poison"))
    await bus.publish(UserSuspended(user_id="fine"))
    tries = 0
    fixed = False
    handled: list[str] = []

    async def handle(env: Envelope) -> None:
        nonlocal tries
        uid = env.payload(UserSuspended).user_id
        if uid == "poison" and not fixed:
            tries += 1
            raise ValueError("cannot handle this one")
        handled.append(uid)

    c = consumer(redis, handle, max_deliveries=3)
    await c.setup()
    await drain(c, rounds=30)
    assert tries == 3
    assert handled == ["fine"]
    dead = await dead_letters(redis, USER)
    assert len(dead) == 1
    assert dead[0]["error"] == "ValueError"  # the type only: the text may quote what it failed on
    assert dead[0]["deliveries"] == "3" and dead[0]["group"] == "sessions"
    assert (await redis.xpending(USER, "sessions"))["pending"] == 0

    # An operator replays it once the bug is fixed: same event id, delivered again, handled once.
    fixed = True
    await replay_dead_letter(redis, USER, dead[0]["dead_id"])
    await drain(c, rounds=3)
    assert handled == ["fine", "poison"]
    assert await dead_letters(redis, USER) == []


async def test_malformed_entry_is_dead_lettered_at_once(redis: Redis) -> None:
    await RedisStreamBus(redis, "gateway").ensure_groups(USER)
    await redis.xadd(USER, {"envelope": b"{not json"})

    async def handle(env: Envelope) -> None:
        raise AssertionError("must not be called")

    c = consumer(redis, handle)
    await c.setup()
    await drain(c, rounds=2)
    dead = await dead_letters(redis, USER)
    assert len(dead) == 1 and dead[0]["error"].startswith("malformed envelope")


async def test_consumer_restart_loses_nothing(redis: Redis) -> None:
    bus = RedisStreamBus(redis, "gateway")
    for i in range(5):
        await bus.publish(UserSuspended(user_id=f"u{i}"))
    seen: list[str] = []
    stop_after = 2

    async def flaky(env: Envelope) -> None:
        if len(seen) == stop_after:
            raise asyncio.CancelledError  # the process dies mid-batch
        seen.append(env.payload(UserSuspended).user_id)

    first = consumer(redis, flaky, name="instance-a", claim_idle_ms=60_000)
    await first.setup()
    with pytest.raises(asyncio.CancelledError):
        await first.run_once(block=False)
    assert seen == ["u0", "u1"]

    async def ok(env: Envelope) -> None:
        seen.append(env.payload(UserSuspended).user_id)

    # Same instance name after restart: it first takes back its own pending entries.
    restarted = consumer(redis, ok, name="instance-a", claim_idle_ms=60_000)
    await restarted.setup()
    await restarted.run_once(block=False)
    assert seen == ["u0", "u1", "u2", "u3", "u4"]
    assert (await redis.xpending(USER, "sessions"))["pending"] == 0


async def test_trimming_never_removes_pending_entries(redis: Redis) -> None:
    bus = RedisStreamBus(redis, "gateway", maxlen=5, trim_every=0)
    ids = [await bus.publish(UserSuspended(user_id=f"u{i}")) for i in range(10)]
    assert len(ids) == 10
    # 'sessions' reads and acks everything; 'records' reads 3 and leaves them pending;
    # 'reports' has read nothing at all.
    async def noop(env: Envelope) -> None:
        return None

    c = consumer(redis, noop)
    await c.setup()
    await c.run_once(block=False)
    await redis.xreadgroup("records", "r1", {USER: ">"}, count=3)
    assert await bus.trim(USER) == 0  # 'reports' still needs everything
    await redis.xgroup_setid(USER, "reports", "$")  # reports is done with the whole stream
    removed = await bus.trim(USER)
    assert removed == 0  # records' oldest pending entry is the very first one
    entries = await redis.xrange(USER)
    first_pending = (await redis.xpending(USER, "records"))["min"]
    assert entries[0][0] == first_pending
    # records acks its three entries and reads the rest: now the acked prefix can go
    pend = await redis.xpending_range(USER, "records", min="-", max="+", count=10)
    await redis.xack(USER, "records", *[p["message_id"] for p in pend])
    await redis.xreadgroup("records", "r1", {USER: ">"}, count=4)  # 4 of the remaining 7 stay pending
    floor = await safe_trim_point(redis, USER)
    removed = await bus.trim(USER)
    assert removed == 3
    remaining = [eid.decode() for eid, _ in await redis.xrange(USER)]
    assert remaining[0] == floor
    still_pending = [p["message_id"].decode() for p in await redis.xpending_range(USER, "records", "-", "+", 10)]
    for pid in still_pending:
        assert pid in remaining, "a pending entry was trimmed"
        assert (await redis.xrange(USER, pid, pid))[0][1], "pending entry lost its fields"


async def test_graceful_shutdown_finishes_the_message_in_hand(redis: Redis) -> None:
    bus = RedisStreamBus(redis, "sessions")
    for i in range(3):
        await bus.publish(PairingEnded(pairing_id=f"p{i}", mentor_id="m", mentee_id="e",
                                       ended_at=datetime.now(UTC)))
    started = asyncio.Event()
    release = asyncio.Event()
    done: list[str] = []

    async def slow(env: Envelope) -> None:
        started.set()
        await release.wait()
        done.append(env.payload(PairingEnded).pairing_id)

    c = Consumer(redis, group="records", name="r-a", streams=["tandem.pairing"], handler=slow,
                 claim_idle_ms=60_000, block_ms=50)
    task = c.start()
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.create_task(c.stop())
    await asyncio.sleep(0.05)
    release.set()
    await stopping
    assert task.done()
    assert done == ["p0"]  # finished the one in hand, started nothing else
    pending = await redis.xpending("tandem.pairing", "records")
    assert pending["pending"] == 2  # released for another consumer, not lost


async def test_two_consumers_share_the_load_and_handle_each_event_once(redis: Redis) -> None:
    bus = RedisStreamBus(redis, "gateway", trim_every=0)
    for i in range(200):
        await bus.publish(UserSuspended(user_id=f"u{i}"))
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def handler_for(name: str):  # type: ignore[no-untyped-def]
        async def handle(env: Envelope) -> None:
            seen[name].append(env.payload(UserSuspended).user_id)
            await asyncio.sleep(0)  # let the other consumer interleave
        return handle

    a = consumer(redis, handler_for("a"), name="a", batch=8)
    b = consumer(redis, handler_for("b"), name="b", batch=8)
    await a.setup()
    for _ in range(40):
        await asyncio.gather(a.run_once(block=False), b.run_once(block=False))
    everything = seen["a"] + seen["b"]
    assert sorted(everything) == sorted(f"u{i}" for i in range(200))
    assert len(set(everything)) == 200, "an event was handled twice"
    assert seen["a"] and seen["b"], "both consumers took a share"


async def test_consumer_survives_redis_being_down_at_start(redis_url: str) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.1)

    async def handle(env: Envelope) -> None:
        return None

    c = Consumer(dead, group="sessions", name="x", streams=[USER], handler=handle, block_ms=10)
    task = c.start()
    await asyncio.sleep(0.3)
    assert not task.done(), "the consumer must keep retrying, not die"
    await c.stop(timeout=5)
    assert task.done() and task.exception() is None
    await dead.aclose()
