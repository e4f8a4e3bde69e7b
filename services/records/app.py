"""Application factory of the records service."""

from __future__ import annotations

import functools
from pathlib import Path

from litestar import Litestar

import services.records
from services.records.adapters.db import outbox
from services.records.audit.controllers import AuditController
from services.records.audit.wiring import GROUP as AUDIT_GROUP
from services.records.audit.wiring import STREAMS as AUDIT_STREAMS
from services.records.audit.wiring import audit_handler
from services.records.config import Settings
from services.records.context import CONTEXT, RecordsContext, open_context
from services.records.disputes.controllers import DisputesController
from services.records.events.consumer import GROUP, STREAMS
from services.records.notes.controllers import NotesController
from services.records.recordings.controllers import IngestController, RecordingsController
from services.records.retention.controllers import RetentionController
from shared.bus import Handler
from shared.clock import Clock, utcnow
from shared.service import ConsumerSpec, ContextSpec, Runtime, build_app

MIGRATIONS = Path(__file__).parent / "migrations"


def _records_events(runtime: Runtime, ctx: RecordsContext) -> Handler:
    return ctx.events.handle


def _audit_entries(runtime: Runtime, ctx: RecordsContext) -> Handler:
    return audit_handler(ctx.ledger, ctx.checkpointer)


CONSUMERS = [ConsumerSpec(GROUP, STREAMS, _records_events), ConsumerSpec(AUDIT_GROUP, AUDIT_STREAMS, _audit_entries)]


async def _store_answers(ctx: RecordsContext) -> None:
    await ctx.store.aping()


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow) -> Litestar:
    """`clock` (tests) is the time the records services see; the ledger keeps real time."""
    settings = settings or Settings()
    context = CONTEXT if clock is utcnow else ContextSpec(RecordsContext, functools.partial(open_context, clock=clock))
    return build_app(
        name="records",
        settings=settings,
        route_handlers=[NotesController, RecordingsController, IngestController, RetentionController, AuditController,
                        DisputesController],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        context=context,
        readiness={"object_store": _store_answers},
        consumers=CONSUMERS,
        description=services.records.__doc__ or "",
    )
