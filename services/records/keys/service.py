"""KEK rotation, DEK rewrap (metadata only: object data is never read) and proven retirement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.core.tables import record_objects
from shared.crypto import KeyEncryptionKeyProvider, WrappedKey, rewrap


class StillReferenced(Exception):
    def __init__(self, version: int, count: int) -> None:
        super().__init__(f"KEK version {version} is still referenced by {count} data keys")
        self.version = version
        self.count = count


@dataclass(frozen=True)
class RewrapProgress:
    done: int
    total: int


async def references(engine: AsyncEngine, version: int | None = None) -> dict[int, int]:
    """Live wrapped DEKs per KEK version (shredded keys no longer count)."""
    q = (sa.select(record_objects.c.kek_version, sa.func.count())
         .where(record_objects.c.wrapped_dek.is_not(None), record_objects.c.kek_version.is_not(None))
         .group_by(record_objects.c.kek_version))
    if version is not None:
        q = q.where(record_objects.c.kek_version == version)
    async with engine.connect() as conn:
        return {int(v): int(n) for v, n in await conn.execute(q)}


async def rewrap_all(engine: AsyncEngine, provider: KeyEncryptionKeyProvider, *, batch: int = 200,
                     progress: Callable[[RewrapProgress], None] | None = None) -> int:
    """Re-wrap every live DEK not under the primary KEK. Resumable: each batch commits on its own and
    the work left is always "rows not under the primary", so a rerun continues where it stopped."""
    primary = provider.primary_version()
    not_primary = sa.and_(record_objects.c.wrapped_dek.is_not(None), record_objects.c.kek_version != primary)
    async with engine.connect() as conn:
        total = int((await conn.execute(sa.select(sa.func.count()).select_from(record_objects)
                                        .where(not_primary))).scalar_one())
    done = 0
    last = ""
    while True:
        async with engine.begin() as conn:
            rows = (await conn.execute(
                sa.select(record_objects.c.id, record_objects.c.crypto_id, record_objects.c.kek_version,
                          record_objects.c.wrapped_dek)
                .where(not_primary, record_objects.c.id > last).order_by(record_objects.c.id).limit(batch))).all()
            if not rows:
                break
            for row in rows:
                new = rewrap(provider, WrappedKey(row.kek_version, row.wrapped_dek), record_id=row.crypto_id)
                # Never write a key back over a shredded one, nor over a concurrent rewrap.
                res = await conn.execute(
                    sa.update(record_objects)
                    .where(record_objects.c.id == row.id, record_objects.c.kek_version == row.kek_version,
                           record_objects.c.wrapped_dek.is_not(None))
                    .values(kek_version=new.kek_version, wrapped_dek=new.blob))
                done += int(res.rowcount or 0)
            last = rows[-1].id
        if progress:
            progress(RewrapProgress(done, total))
    return done


async def retire(engine: AsyncEngine, provider: KeyEncryptionKeyProvider, version: int) -> int:
    """Retire `version` if no live DEK references it; returns the (zero) count that proves it."""
    count = (await references(engine, version)).get(version, 0)
    if count:
        raise StillReferenced(version, count)
    provider.retire(version)
    return count
