"""The blind-index key: random, created once, stored wrapped by the keyring in `index_keys` (its own
table, one row per key id).

Instances starting together may race to create it; the loser reads the winner's row.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reports.adapters.db import UtcDateTime, metadata
from shared.clock import utcnow
from shared.crypto import KeyEncryptionKeyProvider, WrappedKey, new_data_key

KEY_ID = "blind-index-v1"
RECORD_ID = f"reports:index-key:{KEY_ID}"

# The key of the blind indexes, wrapped by the keyring like any DEK (one row per version).
index_keys = sa.Table(
    "index_keys", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kek_version", sa.Integer, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)


async def load_index_key(engine: AsyncEngine, keyring: KeyEncryptionKeyProvider) -> bytes:
    for _ in range(2):
        async with engine.connect() as conn:
            row = (await conn.execute(sa.select(index_keys).where(index_keys.c.id == KEY_ID))).first()
        if row is not None:
            return keyring.unwrap(WrappedKey(row.kek_version, row.wrapped_key), record_id=RECORD_ID)
        wrapped = keyring.wrap(new_data_key(), record_id=RECORD_ID)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(index_keys).values(
                    id=KEY_ID, kek_version=wrapped.kek_version, wrapped_key=wrapped.blob, created_at=utcnow()))
        except IntegrityError:
            continue  # another instance created it first: read theirs
    raise RuntimeError("cannot establish the blind-index key")
