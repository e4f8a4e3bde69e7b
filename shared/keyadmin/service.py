"""Key administration of a service's envelope keys: how many data keys each key-encryption key (KEK)
version wraps, rewrap every data key under the primary, retire a version nothing references.

A service names where its wrapped data keys live (`WrappedKeys`: a table, the wrapped-key and version
columns, what the wrap is bound to); the rest is the same for every service. Rewrapping reads no sealed
data: only the wrapped keys change. Each batch commits on its own and the work left is always "rows not
under the primary", so a rerun continues where an interrupted one stopped. A shredded key (NULL) is never
written back, nor a key someone else rewrapped meanwhile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.crypto import KeyEncryptionKeyProvider, WrappedKey, rewrap


@dataclass(frozen=True)
class WrappedKeys:
    """One table column holding wrapped data keys, next to the KEK version that wraps each.

    The wrap is bound to a record id: the row's `bound_to` column (default: its primary key, which must
    be a single string column), or `record_id` for every row of the table.
    """

    table: sa.Table
    blob: str = "wrapped_dek"
    version: str = "kek_version"
    bound_to: str | None = None
    record_id: str | None = None

    @property
    def pk(self) -> sa.Column[Any]:
        (column,) = self.table.primary_key.columns
        return column

    def live(self) -> sa.ColumnElement[bool]:
        """Rows whose key was not shredded."""
        return sa.and_(self.table.c[self.blob].is_not(None), self.table.c[self.version].is_not(None))

    def bound_id(self, row_id: Any, bound: Any) -> str:
        """The record id the wrap of row `row_id` (with `bound_to` value `bound`) is bound to."""
        if self.record_id is not None:
            return self.record_id
        return str(bound if self.bound_to else row_id)


class StillReferenced(Exception):
    def __init__(self, version: int, count: int) -> None:
        super().__init__(f"KEK version {version} still wraps {count} data keys")
        self.version = version
        self.count = count


@dataclass(frozen=True)
class RewrapProgress:
    """How far a rewrap has come: `done` of the `total` keys that were due when it started."""

    done: int
    total: int


class KeyAdmin:
    """The key commands over one service's database and keyring."""

    def __init__(self, engine: AsyncEngine, keyring: KeyEncryptionKeyProvider, wrapped: Sequence[WrappedKeys]) -> None:
        self.engine = engine
        self.keyring = keyring
        self.wrapped = tuple(wrapped)

    async def references(self, version: int | None = None) -> dict[int, int]:
        """Live (not shredded) data keys per KEK version, or only `version`'s."""
        counts: Counter[int] = Counter()
        async with self.engine.connect() as conn:
            for w in self.wrapped:
                col = w.table.c[w.version]
                q = sa.select(col, sa.func.count()).where(w.live()).group_by(col)
                if version is not None:
                    q = q.where(col == version)
                for v, n in await conn.execute(q):
                    counts[int(v)] += int(n)
        return dict(counts)

    async def rewrap_all(self, *, batch: int = 200, progress: Callable[[RewrapProgress], None] | None = None) -> int:
        """Re-wrap every live data key not under the primary KEK; how many were re-wrapped. `progress`
        hears after each batch how many are done of those that were due at the start."""
        primary = self.keyring.primary_version()
        due = [sa.and_(w.live(), w.table.c[w.version] != primary) for w in self.wrapped]
        async with self.engine.connect() as conn:
            total = 0
            for w, not_primary in zip(self.wrapped, due, strict=True):
                total += int((await conn.execute(
                    sa.select(sa.func.count()).select_from(w.table).where(not_primary))).scalar_one())
        done = 0
        for w, not_primary in zip(self.wrapped, due, strict=True):
            table, pk, version, blob = w.table, w.pk, w.table.c[w.version], w.table.c[w.blob]
            bound = table.c[w.bound_to] if w.bound_to else sa.null()
            last = ""
            while True:
                async with self.engine.begin() as conn:
                    rows = (await conn.execute(sa.select(pk, version, blob, bound).where(not_primary, pk > last)
                                               .order_by(pk).limit(batch))).all()
                    if not rows:
                        break
                    for row_id, kek_version, wrapped, bound_value in rows:
                        new = rewrap(self.keyring, WrappedKey(kek_version, wrapped),
                                     record_id=w.bound_id(row_id, bound_value))
                        res = await conn.execute(
                            sa.update(table).where(pk == row_id, version == kek_version, blob.is_not(None))
                            .values({w.version: new.kek_version, w.blob: new.blob}))
                        done += int(res.rowcount or 0)
                    last = rows[-1][0]
                if progress:
                    progress(RewrapProgress(done, total))
        return done

    async def retire(self, version: int) -> int:
        """Retire `version` only if no live data key references it; returns the (zero) count that proves it."""
        count = (await self.references(version)).get(version, 0)
        if count:
            raise StillReferenced(version, count)
        self.keyring.retire(version)
        return count
