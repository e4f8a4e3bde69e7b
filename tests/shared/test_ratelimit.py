"""shared/ratelimit.py: fixed windows aligned to the epoch, counted in Redis; a refusal is a 429 whose
Retry-After is the time left in the window (shared.http.retry_after rounds it up)."""

from __future__ import annotations

import secrets

import pytest
from redis.asyncio import Redis

from shared.http import TooManyRequests, retry_after, whole_seconds
from shared.ratelimit import RateCounts, RateLimiter


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_retry_after_rounds_up_and_waits_at_least_a_second() -> None:
    assert retry_after() == {"retry-after": "5"}  # an outage's wait (shared.outage.RETRY_AFTER_S)
    assert retry_after(1) == {"retry-after": "1"}
    assert retry_after(12.2) == {"retry-after": "13"}
    assert retry_after(0) == {"retry-after": "1"}
    assert whole_seconds(2.0) == 2 and whole_seconds(2.5) == 3 and whole_seconds(-3) == 0


async def test_limits_per_window_with_retry_after_to_its_end(redis: Redis) -> None:
    prefix = f"test:rl:{secrets.token_hex(4)}:"
    clock = FakeClock(6000.0 + 12.25)  # window 100 of 60 s, 47.75 s before its end
    limiter = RateLimiter(redis, prefix=prefix, window_s=60, clock=clock)
    for _ in range(3):
        await limiter.hit(("a", 3), ("b", 10))
    with pytest.raises(TooManyRequests) as refused:
        await limiter.hit(("a", 3), ("b", 10))
    assert refused.value.status_code == 429 and refused.value.slug == "rate-limited"
    assert refused.value.headers == {"retry-after": "48"}
    assert int(await redis.get(f"{prefix}b:100") or 0) == 4  # every limit is counted, even on refusal
    assert 0 < await redis.ttl(f"{prefix}a:100") <= 61

    clock.now = 6060.0  # the next window starts afresh
    await limiter.hit(("a", 3))
    assert await limiter.allow("c", 1) and not await limiter.allow("c", 1)


async def test_rate_counts_count_here_and_flush_to_the_shared_counters(redis: Redis) -> None:
    limiter = RateLimiter(redis, prefix=f"test:rl:{secrets.token_hex(4)}:", window_s=60)
    key = limiter.key("ip:1", 7)
    counts = RateCounts(redis, limiter.ttl_s)
    assert counts.hit(key, 7) == 1 and counts.hit(key, 7) == 2
    await counts.flush()
    assert int(await redis.get(key) or 0) == 2
    assert counts.learn(key, 7, 5) == 5  # another instance counted too
    assert counts.hit(limiter.key("ip:1", 8), 8) == 1  # a new window forgets the old one
