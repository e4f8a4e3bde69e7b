"""The records service's own resources, typed and frozen: built once in the app's lifespan (`open_context`)
and handed to handlers by field name (`notes: Notes` gets `ctx.notes`).

Who uses what: the lifecycle owns the record rows and the vault their sealed objects; notes, recordings
and the dispute workflow create and hold records through it; retention erases what its policy says
is due; dispute access and the views read under the audit ledger."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.adapters.backstop import install_backstop
from services.records.adapters.receipts import ReceiptSigner
from services.records.adapters.upload import SealedUpload
from services.records.adapters.vault import Vault
from services.records.audit.service import Checkpointer, Ledger
from services.records.audit.wiring import open_ledger
from services.records.config import Settings
from services.records.disputes.access import DisputeAccess
from services.records.disputes.views import DisputeViews
from services.records.disputes.workflow import DisputeWorkflow
from services.records.events.consumer import RecordsEvents
from services.records.lifecycle.service import Lifecycle
from services.records.notes.service import Notes
from services.records.recordings.orphans import OpenUploads
from services.records.recordings.service import Recordings
from services.records.retention.policy import Policy
from services.records.retention.service import Retention
from services.records.retention.sweeper import running_sweeper
from shared.clock import Clock, utcnow
from shared.crypto import KeyEncryptionKeyProvider, LocalKeyring
from shared.objectstore import S3ObjectStore
from shared.outbox import Outbox
from shared.service import ContextSpec, Runtime


@dataclass(frozen=True)
class RecordsContext:
    store: S3ObjectStore
    vault: Vault
    lifecycle: Lifecycle
    policy: Policy
    retention: Retention
    notes: Notes
    recordings: Recordings
    disputes: DisputeWorkflow
    dispute_views: DisputeViews
    dispute_access: DisputeAccess
    events: RecordsEvents
    ledger: Ledger
    checkpointer: Checkpointer


def build_lifecycle(settings: Settings, engine: AsyncEngine, outbox: Outbox, *, store: S3ObjectStore,
                    provider: KeyEncryptionKeyProvider | None = None, clock: Clock = utcnow) -> Lifecycle:
    """The record rows' owner over the vault (keyring and store) and the receipt signer kept next to it."""
    keyring = Path(settings.keyring_path)
    vault = Vault(provider or LocalKeyring(keyring), store, segment_size=settings.segment_size)
    signer = ReceiptSigner.load_or_create(keyring.with_name(keyring.stem + "-receipt-signing.json"))
    return Lifecycle(engine=engine, vault=vault, signer=signer, outbox=outbox, clock=clock)


def build_context(settings: Settings, engine: AsyncEngine, outbox: Outbox, *, store: S3ObjectStore, ledger: Ledger,
                  checkpointer: Checkpointer, provider: KeyEncryptionKeyProvider | None = None,
                  clock: Clock = utcnow) -> RecordsContext:
    """Every service of the context over these resources (nothing started: see `open_context`)."""
    lifecycle = build_lifecycle(settings, engine, outbox, store=store, provider=provider, clock=clock)
    vault = lifecycle.vault
    policy = Policy(settings)
    retention = Retention(engine=engine, lifecycle=lifecycle, settings=settings, instance=settings.consumer_name)
    journal = OpenUploads(engine, clock)
    upload = functools.partial(SealedUpload, store, part_size=settings.upload_part_size,
                               parallel=settings.upload_parallel_parts, give_up_s=settings.upload_give_up_s,
                               journal=journal)
    recordings = Recordings(engine=engine, vault=vault, lifecycle=lifecycle, policy=policy, outbox=outbox,
                            settings=settings, upload=upload, leftovers=journal, clock=clock)
    return RecordsContext(
        store=store, vault=vault, lifecycle=lifecycle, policy=policy, retention=retention,
        notes=Notes(engine=engine, vault=vault, lifecycle=lifecycle, outbox=outbox, settings=settings, clock=clock),
        recordings=recordings,
        disputes=DisputeWorkflow(engine=engine, lifecycle=lifecycle, ledger=ledger, outbox=outbox, settings=settings,
                                 clock=clock),
        dispute_views=DisputeViews(engine=engine, ledger=ledger, clock=clock),
        dispute_access=DisputeAccess(engine=engine, vault=vault, ledger=ledger, outbox=outbox, settings=settings,
                                     clock=clock),
        events=RecordsEvents(engine=engine, lifecycle=lifecycle, policy=policy, retention=retention,
                             recordings=recordings),
        ledger=ledger, checkpointer=checkpointer)


@contextlib.asynccontextmanager
async def open_context(runtime: Runtime, *, clock: Clock = utcnow) -> AsyncIterator[RecordsContext]:
    """The buckets, the audit ledger (and its checkpointer), the services, the S3 lifecycle backstop and
    the background sweeper, for the app's lifetime."""
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - build_app is given our Settings
    assert runtime.outbox is not None  # noqa: S101 - the app is built with the records outbox table
    store = S3ObjectStore.from_settings(settings, settings.s3_bucket)
    await asyncio.to_thread(store.ensure_bucket)
    async with open_ledger(settings, runtime.engine) as (ledger, checkpointer):
        ctx = build_context(settings, runtime.engine, runtime.outbox, store=store, ledger=ledger,
                            checkpointer=checkpointer, clock=clock)
        await install_backstop(store, settings.lifecycle_backstop_days)
        async with running_sweeper(ctx.retention, settings.sweep_interval_s,
                                   chores=[functools.partial(OpenUploads(runtime.engine, clock).abort_stale, store)]):
            yield ctx


CONTEXT = ContextSpec(RecordsContext, open_context)
