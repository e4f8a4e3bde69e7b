"""Background sweeper: runs `sweep_once` every RECORDS_SWEEP_INTERVAL_S on every instance; the row
leases make concurrent instances split the work instead of doubling it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from services.records.core.context import Records
from services.records.recordings.orphans import aabort_stale_uploads
from services.records.retention.service import sweep_once
from shared.logging import get_logger

log = get_logger("tandem.records.sweeper")


async def _loop(rec: Records, interval: float) -> None:
    while True:
        try:
            result = await sweep_once(rec)
            if result.expired or result.failed:
                log.info("records.sweep", expired=len(result.expired), failed=len(result.failed))
            await aabort_stale_uploads(rec.store)  # uploads a failed ingest could not abort then
        except Exception as exc:  # noqa: BLE001 - DB or S3 hiccup: try again next round
            log.warning("records.sweep_failed", exc_type=type(exc).__name__)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_sweeper(rec: Records) -> AsyncIterator[None]:
    interval = rec.settings.sweep_interval_s
    if interval <= 0:
        yield
        return
    task = asyncio.create_task(_loop(rec, interval), name="records:sweeper")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
