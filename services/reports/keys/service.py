"""Rotate, rewrap and retire the reports KEKs. Rewrapping never reads sealed data: only the wrapped
DEKs change. Each batch commits on its own and the work left is always "rows not under the
primary", so a rerun continues where an interrupted one stopped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reports.adapters.db import attachments, entries, index_keys, reports, reveal_requests
from services.reports.adapters.index_key import RECORD_ID as INDEX_RECORD_ID
from shared.crypto import KeyEncryptionKeyProvider, WrappedKey, rewrap


@dataclass(frozen=True)
class Wrapped:
    """Where one kind of wrapped DEK lives, and the record id its wrap is bound to."""

    table: sa.Table
    column: str
    record_id: Callable[[str], str]


WRAPPED = (
    Wrapped(reports, "wrapped_dek", lambda row_id: row_id),
    Wrapped(entries, "wrapped_dek", lambda row_id: row_id),
    Wrapped(attachments, "wrapped_dek", lambda row_id: row_id),
    Wrapped(reveal_requests, "wrapped_dek", lambda row_id: row_id),
    Wrapped(index_keys, "wrapped_key", lambda _row_id: INDEX_RECORD_ID),
)


class StillReferenced(Exception):
    def __init__(self, version: int, count: int) -> None:
        super().__init__(f"KEK version {version} still wraps {count} data keys")
        self.version = version
        self.count = count


async def references(engine: AsyncEngine) -> dict[int, int]:
    """How many live data keys each KEK version wraps."""
    counts: Counter[int] = Counter()
    async with engine.connect() as conn:
        for w in WRAPPED:
            col = w.table.c[w.column]
            rows = (await conn.execute(sa.select(w.table.c.kek_version, sa.func.count()).where(col.is_not(None))
                                       .group_by(w.table.c.kek_version))).all()
            for version, count in rows:
                if version is not None:
                    counts[int(version)] += int(count)
    return dict(counts)


async def rewrap_all(engine: AsyncEngine, provider: KeyEncryptionKeyProvider, *, batch: int = 200) -> int:
    primary = provider.primary_version()
    done = 0
    for w in WRAPPED:
        table, col, pk = w.table, w.table.c[w.column], next(iter(w.table.primary_key.columns))
        last = ""
        while True:
            async with engine.begin() as conn:
                rows = (await conn.execute(
                    sa.select(pk, table.c.kek_version, col)
                    .where(col.is_not(None), table.c.kek_version != primary, pk > last)
                    .order_by(pk).limit(batch))).all()
                if not rows:
                    break
                for row_id, version, blob in rows:
                    new = rewrap(provider, WrappedKey(version, blob), record_id=w.record_id(row_id))
                    # Never write a key back over a shredded one, nor over a concurrent rewrap.
                    res = await conn.execute(sa.update(table).where(
                        pk == row_id, table.c.kek_version == version, col.is_not(None))
                        .values({"kek_version": new.kek_version, w.column: new.blob}))
                    done += int(res.rowcount or 0)
                last = rows[-1][0]
    return done


async def retire(engine: AsyncEngine, provider: KeyEncryptionKeyProvider, version: int) -> None:
    """Retire `version` only if no live data key references it."""
    count = (await references(engine)).get(version, 0)
    if count:
        raise StillReferenced(version, count)
    provider.retire(version)
