"""The records service's own resources, built once in the app lifespan (or by the CLI) and kept on
`runtime.extras["records"]`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import overload

from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.config import Settings
from services.records.core.receipts import ReceiptSigner
from services.records.core.vault import Vault
from shared.crypto import KeyEncryptionKeyProvider, LocalKeyring
from shared.objectstore import ObjectStore, S3ObjectStore
from shared.outbox import Outbox


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every timestamp here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass
class Records:
    settings: Settings
    engine: AsyncEngine
    vault: Vault
    signer: ReceiptSigner
    outbox: Outbox | None
    instance: str
    clock: Callable[[], datetime] = utcnow

    @property
    def store(self) -> ObjectStore:
        return self.vault.store

    @property
    def provider(self) -> KeyEncryptionKeyProvider:
        return self.vault.provider


def build_records(settings: Settings, engine: AsyncEngine, outbox: Outbox | None, *,
                  store: ObjectStore | None = None, provider: KeyEncryptionKeyProvider | None = None,
                  clock: Callable[[], datetime] = utcnow) -> Records:
    keyring = Path(settings.keyring_path)
    provider = provider or LocalKeyring(keyring)
    store = store or S3ObjectStore.from_settings(settings, settings.s3_bucket)
    signer = ReceiptSigner.load_or_create(keyring.with_name(keyring.stem + "-receipt-signing.json"))
    return Records(settings=settings, engine=engine, vault=Vault(provider, store, segment_size=settings.segment_size),
                   signer=signer, outbox=outbox, instance=settings.consumer_name, clock=clock)
