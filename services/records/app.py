"""Application factory of the records service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar

import services.records
from services.records.adapters.db import outbox
from services.records.audit.wiring import AUDIT_CONSUMER, AUDIT_ROUTES, with_audit
from services.records.config import Settings
from services.records.core.context import build_records
from services.records.disputes.controllers import DisputesController
from services.records.notes.controllers import NotesController
from services.records.pairings import consumer as records_consumer
from services.records.recordings.controllers import IngestController, RecordingsController
from services.records.retention.controllers import RetentionController
from services.records.retention.lifecycle import install_backstop
from services.records.retention.sweeper import running_sweeper
from shared.objectstore import S3ObjectStore
from shared.service import ConsumerSpec, Runtime, build_app

MIGRATIONS = Path(__file__).parent / "migrations"


@contextlib.asynccontextmanager
async def _resources(runtime: Runtime) -> AsyncIterator[None]:
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - build_app is given our Settings
    store = S3ObjectStore.from_settings(settings, settings.s3_bucket)
    await asyncio.to_thread(store.ensure_bucket)
    runtime.extras["store"] = store
    rec = build_records(settings, runtime.engine, runtime.outbox, store=store)
    runtime.extras["records"] = rec
    await install_backstop(store, settings.lifecycle_backstop_days)
    async with running_sweeper(rec):
        yield


async def _check_store(runtime: Runtime) -> None:
    await runtime.extras["store"].aping()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    return build_app(
        name="records",
        settings=settings,
        route_handlers=[NotesController, RecordingsController, IngestController, RetentionController, *AUDIT_ROUTES,
                        DisputesController],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        readiness={"object_store": _check_store},
        setup=with_audit(_resources),
        consumers=[ConsumerSpec(records_consumer.GROUP, records_consumer.STREAMS, records_consumer.handler),
                   AUDIT_CONSUMER],
        description=services.records.__doc__ or "",
    )
