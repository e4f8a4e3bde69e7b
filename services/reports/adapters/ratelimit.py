"""Attempt limits of the reports service: the shared fixed-window limiter (shared/ratelimit.py) keyed by
opaque bucket names (IP hashes, receipt ids, hashed account ids): nothing stored here names a person or
points at a report. The callers refuse with their own 429 (services/reports/concerns/service.py)."""

from __future__ import annotations

import hashlib
import time

from redis.asyncio import Redis

from shared.clock import EpochClock
from shared.ratelimit import RateLimiter as SharedRateLimiter

PREFIX = "reports:rl:"


def opaque(value: str) -> str:
    """Bucket names are hashed again so even the gateway's IP hash is not kept verbatim."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(self, redis: Redis, *, window_s: int = 3600, clock: EpochClock = time.time) -> None:
        self.limiter = SharedRateLimiter(redis, prefix=PREFIX, window_s=window_s, clock=clock)

    async def hit(self, scope: str, bucket: str, limit: int) -> bool:
        """Count one attempt; False once `limit` attempts were made in the current window."""
        return await self.limiter.allow(f"{scope}:{opaque(bucket)}", limit)
