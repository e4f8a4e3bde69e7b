"""Background sweeper: runs `sweep_once` every RECORDS_SWEEP_INTERVAL_S on every instance (the row
leases make concurrent instances split the work instead of doubling it), then its chores (aborting
uploads a failed ingest could not abort then)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from services.records.retention.service import Retention
from shared.logging import get_logger
from shared.tasks import cancel

log = get_logger("tandem.records.sweeper")

Chore = Callable[[], Awaitable[object]]


async def _loop(retention: Retention, interval: float, chores: Sequence[Chore]) -> None:
    while True:
        try:
            result = await retention.sweep_once()
            if result.expired or result.failed:
                log.info("records.sweep", expired=len(result.expired), failed=len(result.failed))
            for chore in chores:
                await chore()
        except Exception as exc:  # noqa: BLE001 - DB or S3 hiccup: try again next round
            log.warning("records.sweep_failed", exc_type=type(exc).__name__)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_sweeper(retention: Retention, interval: float, chores: Sequence[Chore] = ()) -> AsyncIterator[None]:
    if interval <= 0:
        yield
        return
    task = asyncio.create_task(_loop(retention, interval, chores), name="records:sweeper")
    try:
        yield
    finally:
        await cancel(task)
