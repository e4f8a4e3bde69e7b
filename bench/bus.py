"""Event bus throughput vs raw Redis Streams commands, on one private redis-server in the same run.

    python bench/bus.py [--events N]

Publish: `RedisStreamBus.publish` (envelope encoding, group bookkeeping, trimming) vs bare XADD of the
same bytes. Consume: `Consumer` (XREADGROUP, delivery counts, idempotency mark, XACK in a MULTI) vs bare
XREADGROUP + XACK. Both sides send one command round trip per event, as a real service does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from deploy.local.children import start_redis
from shared.bus import Consumer, RedisStreamBus
from shared.events import Envelope, encode_envelope, new_envelope
from shared.events.types import UserSuspended


async def raw(redis: Redis, n: int) -> tuple[float, float]:
    payload = encode_envelope(new_envelope(UserSuspended(user_id="u"), source="bench"))
    await redis.xgroup_create("raw", "g", id="0", mkstream=True)
    t0 = time.perf_counter()
    for _ in range(n):
        await redis.xadd("raw", {"envelope": payload})
    t1 = time.perf_counter()
    done = 0
    while done < n:
        reply = await redis.xreadgroup("g", "c", {"raw": ">"}, count=16)
        for _stream, entries in reply:
            for eid, _fields in entries:
                await redis.xack("raw", "g", eid)
                done += 1
    t2 = time.perf_counter()
    return n / (t1 - t0), n / (t2 - t1)


async def bus(redis: Redis, n: int) -> tuple[float, float]:
    publisher = RedisStreamBus(redis, "bench", maxlen=n * 2)
    t0 = time.perf_counter()
    for i in range(n):
        await publisher.publish(UserSuspended(user_id=f"u{i}"))
    t1 = time.perf_counter()
    handled = 0

    async def handler(_env: Envelope) -> None:
        nonlocal handled
        handled += 1

    consumer = Consumer(redis, group="sessions", name="bench", streams=["tandem.user"], handler=handler)
    await consumer.setup()
    while handled < n:
        await consumer.run_once(block=False)
    t2 = time.perf_counter()
    return n / (t1 - t0), n / (t2 - t1)


async def main(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        child = start_redis(Path(tmp))
        redis = Redis.from_url(child.url)
        try:
            raw_pub, raw_con = await raw(redis, n)
            bus_pub, bus_con = await bus(redis, n)
        finally:
            await redis.aclose()
            child.stop()
    return {"events": n, "raw_publish_per_s": raw_pub, "bus_publish_per_s": bus_pub,
            "raw_consume_ack_per_s": raw_con, "bus_consume_ack_per_s": bus_con,
            "publish_ratio": bus_pub / raw_pub, "consume_ratio": bus_con / raw_con}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    result = asyncio.run(main(parser.parse_args().events))
    print(f"publish  raw XADD      {result['raw_publish_per_s']:>9.0f} ev/s")
    print(f"publish  bus           {result['bus_publish_per_s']:>9.0f} ev/s   ratio {result['publish_ratio']:.2f}x")
    print(f"consume  raw read+ack  {result['raw_consume_ack_per_s']:>9.0f} ev/s")
    print(f"consume  bus consumer  {result['bus_consume_ack_per_s']:>9.0f} ev/s   ratio {result['consume_ratio']:.2f}x")
    print(json.dumps({"bench": "bus", **{k: round(v, 3) for k, v in result.items()}}))
