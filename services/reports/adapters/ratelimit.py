"""Fixed-window rate limits in Redis, keyed by opaque bucket names (IP hashes, receipt ids, hashed
account ids): nothing stored here names a person or points at a report."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

PREFIX = "reports:rl:"


def opaque(value: str) -> str:
    """Bucket names are hashed again so even the gateway's IP hash is not kept verbatim."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(self, redis: Redis, *, window_s: int = 3600) -> None:
        self.redis = redis
        self.window_s = window_s

    async def hit(self, scope: str, bucket: str, limit: int) -> bool:
        """Count one attempt; False once `limit` attempts were made in the current window."""
        key = f"{PREFIX}{scope}:{opaque(bucket)}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_s, nx=True)
            count, _ = await pipe.execute()
        return int(count) <= limit
