"""Rate limits, one way for every service: fixed windows counted in Redis, so every instance of a service
shares them.

A window is `window_s` seconds aligned to the epoch (window `n` runs from `n * window_s`); each name's
count for window `n` lives at `<prefix><name>:<n>` and expires a second after the window ends. A refusal
is a 429 problem+json whose Retry-After is the time left in the window. The clock is injected (an
`EpochClock`), so tests move time instead of sleeping.

`RateLimiter` counts in Redis at once (one round trip per check). `RateCounts` is the same counters
counted in memory first and added to Redis in the background, for a hot path that must not wait on Redis
(the gateway's proxy): one instance's limits are exact, several instances' are exact to within
FLUSH_DELAY_S and one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from redis.asyncio import Redis

from shared.clock import EpochClock
from shared.http import TooManyRequests, retry_after
from shared.logging import get_logger
from shared.tasks import cancel

log = get_logger("tandem.ratelimit")

FLUSH_DELAY_S = 0.05  # how far behind Redis's shared counters `RateCounts` may be (plus one round trip)
DETAIL = "Too many requests. Slow down and try again."


def window_of(now: float, window_s: int) -> int:
    """The index of the window of `window_s` seconds that `now` falls in."""
    return int(now // window_s)


def counter_key(prefix: str, name: str, window: int) -> str:
    """The Redis key of counter `name` (e.g. `ip:<address>`) in window `window`."""
    return f"{prefix}{name}:{window}"


def refusal(now: float, window_s: int) -> TooManyRequests:
    """The 429 for a limit reached at `now`: try again when the window ends."""
    ends = (window_of(now, window_s) + 1) * window_s
    return TooManyRequests(DETAIL, slug="rate-limited", headers=retry_after(ends - now))


class RateLimiter:
    """Fixed-window counters under `prefix` in Redis."""

    def __init__(self, redis: Redis, *, prefix: str, window_s: int, clock: EpochClock = time.time) -> None:
        self.redis = redis
        self.prefix = prefix
        self.window_s = window_s
        self.clock = clock

    @property
    def ttl_s(self) -> int:
        """How long a window's counter lives: a second past the window's end."""
        return self.window_s + 1

    def window(self, now: float) -> int:
        return window_of(now, self.window_s)

    def key(self, name: str, window: int) -> str:
        return counter_key(self.prefix, name, window)

    def refusal(self, now: float) -> TooManyRequests:
        return refusal(now, self.window_s)

    async def count(self, now: float, *names: str) -> list[int]:
        """Count one attempt against each name in the window of `now`; the counts so far, this one included."""
        window = self.window(now)
        async with self.redis.pipeline(transaction=True) as pipe:
            for name in names:
                key = self.key(name, window)
                pipe.incr(key)
                pipe.expire(key, self.ttl_s)
            replies = await pipe.execute()
        return [int(n) for n in replies[::2]]

    async def allow(self, name: str, limit: int) -> bool:
        """Count one attempt; False once more than `limit` were made in this window (the caller refuses)."""
        (count,) = await self.count(self.clock(), name)
        return count <= limit

    async def hit(self, *limits: tuple[str, int]) -> None:
        """Count one attempt against each (name, limit); the 429 with Retry-After if any is exceeded."""
        now = self.clock()
        counts = await self.count(now, *(name for name, _ in limits))
        if any(count > limit for (_, limit), count in zip(limits, counts, strict=True)):
            raise self.refusal(now)


class RateCounts:
    """Fixed-window counters counted here at once and added to the shared Redis counters in the background.

    Keys are full Redis keys that end in their window (`RateLimiter.key`). `known` is the shared total
    Redis last reported, `pending` what this instance counted since; a decision uses their sum. A single
    background task sends every pending count in one pipeline.
    """

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._counts: dict[str, list[int]] = {}  # key -> [known, pending]
        self._window = -1
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _roll(self, window: int) -> None:
        if window != self._window:  # keys carry their window: older ones are done with
            suffix = f":{window}"
            self._counts = {k: v for k, v in self._counts.items() if k.endswith(suffix)}
            self._window = window

    def hit(self, key: str, window: int) -> int:
        self._roll(window)
        counts = self._counts.setdefault(key, [0, 0])
        counts[1] += 1
        self._wake.set()
        return counts[0] + counts[1]

    def learn(self, key: str, window: int, total: int) -> int:
        """Take a total Redis reported for `key`; returns the estimate (that total + counts still pending
        here, which may count a batch in flight twice: errs on the side of limiting)."""
        self._roll(window)
        counts = self._counts.setdefault(key, [0, 0])
        counts[0] = max(counts[0], total)
        return counts[0] + counts[1]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rate-counts")

    async def stop(self) -> None:
        await cancel(self._task)
        with contextlib.suppress(Exception):
            await self.flush()  # a last try, so a restart loses as little as possible

    async def flush(self) -> None:
        batch = [(key, counts[1]) for key, counts in self._counts.items() if counts[1] > 0]
        if not batch:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, n in batch:
                pipe.incrby(key, n)
                pipe.expire(key, self.ttl_s)
            totals = (await pipe.execute())[::2]
        for (key, n), total in zip(batch, totals, strict=True):
            counts = self._counts.get(key)
            if counts is not None:
                counts[1] = max(0, counts[1] - n)
                counts[0] = max(counts[0], int(total))

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            await self._wake.wait()
            await asyncio.sleep(FLUSH_DELAY_S)  # gather what arrives meanwhile into one pipeline
            self._wake.clear()
            try:
                await self.flush()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: keep counting here, send later
                log.warning("ratelimit.flush_failed", exc_type=type(exc).__name__)
                self._wake.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
