"""The reports service's resources, built once per app in its lifespan (`build_app(context=CONTEXT)`):
the object store, the vault over the reports keyring, and the feature services that use them. Each
field is handed to the route handlers by name (`concerns: Concerns`, `cases: Cases`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher, Type

from services.reports.adapters.index_key import load_index_key
from services.reports.adapters.ratelimit import RateLimiter
from services.reports.adapters.receipts import ReceiptBook
from services.reports.adapters.vault import Vault
from services.reports.casefile.service import CaseFile
from services.reports.cases.service import Cases
from services.reports.concerns.service import Concerns
from services.reports.config import Settings
from services.reports.retention.service import Retention
from shared.clock import Clock, utcnow
from shared.crypto import LocalKeyring
from shared.db import secure_delete
from shared.objectstore import S3ObjectStore
from shared.service import ContextSpec, Runtime
from shared.tasks import cancel


@dataclass(frozen=True)
class ReportsContext:
    store: S3ObjectStore
    vault: Vault
    concerns: Concerns
    cases: Cases
    retention: Retention


def receipt_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                          parallelism=settings.argon2_parallelism, type=Type.ID)


@contextlib.asynccontextmanager
async def open_context(runtime: Runtime, *, clock: Clock = utcnow) -> AsyncIterator[ReportsContext]:
    """Build the context; the sweeps run in the background while it is open (SETTINGS sweep_interval_s)."""
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - build_app is given our Settings
    # A shredded report's wrapped keys must not linger in SQLite's free pages.
    await secure_delete(runtime.engine)
    store = S3ObjectStore.from_settings(settings, settings.s3_bucket)
    await asyncio.to_thread(store.ensure_bucket)
    keyring_path = Path(settings.keyring_path)
    keyring_path.parent.mkdir(parents=True, exist_ok=True)
    keyring = await asyncio.to_thread(LocalKeyring, keyring_path)
    receipts = await asyncio.to_thread(ReceiptBook, receipt_hasher(settings))
    vault = Vault(keyring, store, await load_index_key(runtime.engine, keyring))
    files = CaseFile(vault)
    ctx = ReportsContext(
        store=store, vault=vault,
        concerns=Concerns(runtime, settings, files, vault, receipts, RateLimiter(runtime.redis), clock),
        cases=Cases(runtime, settings, files, vault, clock),
        retention=Retention(runtime, settings, files, vault, clock))
    task = asyncio.create_task(ctx.retention.run(settings.sweep_interval_s), name="reports:sweeper") \
        if settings.sweep_interval_s > 0 else None
    try:
        yield ctx
    finally:
        await cancel(task)


def context(clock: Clock = utcnow) -> ContextSpec[ReportsContext]:
    """The context on `clock` (tests pass one they move)."""
    return ContextSpec(ReportsContext, functools.partial(open_context, clock=clock))


CONTEXT = context()
