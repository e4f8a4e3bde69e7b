"""Fixed-window rate limits in Redis, shared by every gateway instance (one round trip per check)."""

from __future__ import annotations

from redis.asyncio import Redis

from services.gateway.keys.service import Clock
from shared.http import TooManyRequests


class RateLimiter:
    def __init__(self, redis: Redis, *, window_s: int, clock: Clock) -> None:
        self.redis = redis
        self.window_s = window_s
        self.clock = clock

    async def hit(self, *limits: tuple[str, int]) -> None:
        """Count one request against each (key, limit); raise 429 with Retry-After if any is exceeded."""
        now = self.clock()
        window = int(now // self.window_s)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, _ in limits:
                name = f"gw:rl:{key}:{window}"
                pipe.incr(name)
                pipe.expire(name, self.window_s + 1)
            counts = (await pipe.execute())[::2]
        for (_, limit), count in zip(limits, counts, strict=True):
            if int(count) > limit:
                retry = max(1, int((window + 1) * self.window_s - now + 0.999))
                raise TooManyRequests("Too many requests. Slow down and try again.", slug="rate-limited",
                                      headers={"retry-after": str(retry)})
