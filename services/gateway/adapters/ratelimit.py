"""The gateway's rate limits: the shared fixed-window limiter (shared/ratelimit.py) under `gw:rl:` keys,
shared by every gateway instance (one round trip per check)."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.clock import EpochClock
from shared.ratelimit import RateLimiter as SharedRateLimiter

PREFIX = "gw:rl:"


class RateLimiter(SharedRateLimiter):
    def __init__(self, redis: Redis, *, window_s: int, clock: EpochClock) -> None:
        super().__init__(redis, prefix=PREFIX, window_s=window_s, clock=clock)
