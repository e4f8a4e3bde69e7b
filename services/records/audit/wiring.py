"""How the records service runs the ledger: its resources (opened by the service's context) and the
handler of its consumer (`tandem.audit`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.audit.archive import CheckpointArchive
from services.records.audit.keys import AuditKeys
from services.records.audit.service import Checkpointer, Ledger, NewEntry
from services.records.config import Settings
from shared.bus import Handler
from shared.events import Envelope
from shared.events.types import AuditEntry
from shared.objectstore import S3ObjectStore

GROUP = "audit-ledger"
STREAMS = ("tandem.audit",)


@contextlib.asynccontextmanager
async def open_ledger(settings: Settings, engine: AsyncEngine) -> AsyncIterator[tuple[Ledger, Checkpointer]]:
    """Keys, the ledger, the checkpoint archive (object-locked bucket) and the periodic checkpointer."""
    keys = await asyncio.to_thread(AuditKeys.load_or_create, Path(settings.audit_key_dir))
    archive = CheckpointArchive(S3ObjectStore.from_settings(settings, settings.audit_bucket),
                                lock_days=settings.audit_lock_days)
    await asyncio.to_thread(archive.ensure)
    ledger = Ledger(engine, keys, archive=archive)
    checkpointer = Checkpointer(ledger, every=settings.audit_checkpoint_every,
                                interval_s=settings.audit_checkpoint_interval_s)
    checkpointer.start()
    try:
        yield ledger, checkpointer
    finally:
        await checkpointer.stop()


def audit_handler(ledger: Ledger, checkpointer: Checkpointer) -> Handler:
    """Consumer of `tandem.audit`: append each entry (a redelivered event id appends nothing)."""

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
