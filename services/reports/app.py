"""Application factory of the reports service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type
from litestar import Litestar
from sqlalchemy import event

import services.reports
from services.reports.adapters.db import outbox
from services.reports.adapters.index_key import load_index_key
from services.reports.adapters.ratelimit import RateLimiter
from services.reports.adapters.receipts import ReceiptBook
from services.reports.adapters.vault import Vault
from services.reports.cases.controllers import CasesController
from services.reports.concerns.controllers import ConcernsController
from services.reports.config import Settings
from services.reports.domain import ReportsContext
from services.reports.officers import service as officers
from services.reports.retention.service import sweep
from shared.crypto import LocalKeyring
from shared.logging import get_logger
from shared.objectstore import S3ObjectStore
from shared.service import ConsumerSpec, Runtime, build_app

MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger("tandem.reports")


def receipt_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                          parallelism=settings.argon2_parallelism, type=Type.ID)


async def _sweeper(runtime: Runtime, ctx: ReportsContext, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await sweep(runtime, ctx)
        except Exception as exc:  # noqa: BLE001 - a failed sweep is retried next round
            log.warning("reports.sweep_failed", exc_type=type(exc).__name__)


async def _secure_delete(runtime: Runtime) -> None:
    """SQLite: zero deleted content, so a shredded report's wrapped keys do not linger in free pages."""
    if runtime.engine.dialect.name != "sqlite":
        return

    @event.listens_for(runtime.engine.sync_engine, "connect")
    def _pragma(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    await runtime.engine.dispose()  # pooled connections (from the migrations) predate the listener


@contextlib.asynccontextmanager
async def _resources(runtime: Runtime) -> AsyncIterator[None]:
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - build_app is given our Settings
    await _secure_delete(runtime)
    store = S3ObjectStore.from_settings(settings, settings.s3_bucket)
    await asyncio.to_thread(store.ensure_bucket)
    runtime.extras["store"] = store
    keyring_path = Path(settings.keyring_path)
    keyring_path.parent.mkdir(parents=True, exist_ok=True)
    keyring = await asyncio.to_thread(LocalKeyring, keyring_path)
    receipts = await asyncio.to_thread(ReceiptBook, receipt_hasher(settings))
    index_key = await load_index_key(runtime.engine, keyring)
    ctx = ReportsContext(settings=settings, vault=Vault(keyring, store, index_key), receipts=receipts,
                         limiter=RateLimiter(runtime.redis))
    runtime.extras["reports"] = ctx
    task = asyncio.create_task(_sweeper(runtime, ctx, settings.sweep_interval_s), name="reports:sweeper") \
        if settings.sweep_interval_s > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _check_store(runtime: Runtime) -> None:
    await runtime.extras["store"].aping()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    return build_app(
        name="reports",
        settings=settings,
        route_handlers=[ConcernsController, CasesController],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        consumers=[ConsumerSpec(officers.GROUP, officers.STREAMS, officers.handler)],
        readiness={"object_store": _check_store},
        setup=_resources,
        description=services.reports.__doc__ or "",
        request_max_body_size=settings.request_max_body_size,
    )
