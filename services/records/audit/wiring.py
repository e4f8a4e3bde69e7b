"""How the records app runs the ledger: its resources, its consumer, its routes.

app.py adds `AUDIT_CONSUMER` to `consumers=`, `AuditController` to `route_handlers=` and wraps its
setup with `with_audit(...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from services.records.audit.archive import CheckpointArchive
from services.records.audit.controllers import AuditController
from services.records.audit.keys import AuditKeys
from services.records.audit.service import LEDGER, Checkpointer, Ledger, NewEntry
from services.records.config import Settings
from shared.bus import Handler
from shared.events import Envelope
from shared.events.types import AuditEntry
from shared.objectstore import S3ObjectStore
from shared.service import ConsumerSpec, Runtime

CHECKPOINTER = "audit_checkpointer"
Setup = Callable[[Runtime], contextlib.AbstractAsyncContextManager[None]]

__all__ = ["AUDIT_CONSUMER", "AUDIT_ROUTES", "audit_handler", "audit_resources", "with_audit"]


@contextlib.asynccontextmanager
async def audit_resources(runtime: Runtime) -> AsyncIterator[None]:
    """Keys, the ledger, the checkpoint archive (object-locked bucket) and the periodic checkpointer."""
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - the records app is built with its Settings
    keys = await asyncio.to_thread(AuditKeys.load_or_create, Path(settings.audit_key_dir))
    archive = CheckpointArchive(S3ObjectStore.from_settings(settings, settings.audit_bucket),
                                lock_days=settings.audit_lock_days)
    await asyncio.to_thread(archive.ensure)
    ledger = Ledger(runtime.engine, keys, archive=archive)
    checkpointer = Checkpointer(ledger, every=settings.audit_checkpoint_every,
                                interval_s=settings.audit_checkpoint_interval_s)
    runtime.extras[LEDGER] = ledger
    runtime.extras[CHECKPOINTER] = checkpointer
    checkpointer.start()
    try:
        yield
    finally:
        await checkpointer.stop()


def with_audit(setup: Setup | None) -> Setup:
    """The app's own setup, then the ledger's."""

    @contextlib.asynccontextmanager
    async def combined(runtime: Runtime) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if setup is not None:
                await stack.enter_async_context(setup(runtime))
            await stack.enter_async_context(audit_resources(runtime))
            yield

    return combined


def audit_handler(runtime: Runtime) -> Handler:
    """Consumer of `tandem.audit`: append each entry (a redelivered event id appends nothing)."""
    ledger: Ledger = runtime.extras[LEDGER]
    checkpointer: Checkpointer = runtime.extras[CHECKPOINTER]

    async def handle(envelope: Envelope) -> None:
        if envelope.type != AuditEntry.TYPE:
            return
        entry = envelope.payload(AuditEntry)
        receipt = await ledger.append(NewEntry(
            event_id=envelope.id, occurred_at=envelope.occurred_at, source=envelope.source, actor=entry.actor,
            action=entry.action, target=entry.target, outcome=entry.outcome, reason=entry.reason,
            hidden_from=entry.hidden_from))
        await checkpointer.after_append(receipt)

    return handle


AUDIT_CONSUMER = ConsumerSpec("audit-ledger", ("tandem.audit",), audit_handler)
AUDIT_ROUTES = [AuditController]
