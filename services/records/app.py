"""Application factory of the records service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar

import services.records
from services.records.adapters.db import outbox
from services.records.config import Settings
from shared.objectstore import S3ObjectStore
from shared.service import Runtime, build_app

MIGRATIONS = Path(__file__).parent / "migrations"


@contextlib.asynccontextmanager
async def _resources(runtime: Runtime) -> AsyncIterator[None]:
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - build_app is given our Settings
    store = S3ObjectStore.from_settings(settings, settings.s3_bucket)
    await asyncio.to_thread(store.ensure_bucket)
    runtime.extras["store"] = store
    yield


async def _check_store(runtime: Runtime) -> None:
    await runtime.extras["store"].aping()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    return build_app(
        name="records",
        settings=settings,
        route_handlers=[],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        readiness={"object_store": _check_store},
        setup=_resources,
        description=services.records.__doc__ or "",
    )
