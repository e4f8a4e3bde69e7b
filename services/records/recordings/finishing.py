"""A stored recording gets its length and seek index: the object is sealed again with the new head.

The head of a WebM comes first, and a sealed object cannot be changed in place (every segment is bound
to the object's salt, nonce prefix and position; sealing a changed first segment again under the same
key and nonce would break AES-GCM). So, once the recorder's body is stored as object A and its record
created (the recorder has its answer), `Indexing` reads the clusters back from A (decrypted a window at
a time, constant memory) behind the new head (`webm.WebmIndex.head()`) into object B, under a new data
key, and swaps B in for A in one transaction that holds only if the record still points at A (not erased,
expired or otherwise changed meanwhile); A is then deleted (B, when the swap did not hold). Both are the
usual sealed stream, and playback reads B by Range like any other object.

It costs a second pass over the recording after the call (a read and a write of the same size:
bench/recordings_index.py). If it cannot be done (the store fails while writing B, the service stops),
the recording stays as it came: playable, without a length. B is journaled in `open_uploads` (as a whole
object) until the swap, so a process that dies in between leaves it to the sweeper, which deletes only
objects no record points at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.adapters.vault import Frames, ObjectRef, SealedObject, Vault
from services.records.lifecycle.tables import record_objects, records
from services.records.recordings.orphans import WHOLE_OBJECT, OpenUploads
from services.records.recordings.webm import WebmIndex
from shared.logging import get_logger

log = get_logger("tandem.records.recordings")


@dataclass(frozen=True, kw_only=True)
class Indexing:
    """One recording's second pass; `run()` never raises but for cancellation (which removes B)."""

    engine: AsyncEngine
    vault: Vault
    upload: Callable[[str], Frames]
    leftovers: OpenUploads | None
    record_id: str
    kind: str
    stored: SealedObject  # A
    index: WebmIndex  # complete
    window: int

    async def run(self) -> bool:
        """True when the record now points at the indexed object."""
        indexed = await self._reseal()
        if indexed is None:
            return False
        try:
            swapped = await self._swap(indexed)
        except Exception as exc:  # noqa: BLE001 - the database failed: A stays, B goes
            log.warning("records.recording_unindexed", record_id=self.record_id, reason="database",
                        exc_type=type(exc).__name__)
            swapped = False
        if swapped:
            log.info("records.recording_indexed", record_id=self.record_id, size=indexed.plaintext_size,
                     duration_ms=self.index.duration_ms)
            await self._journal("closed", indexed.object_key)  # B is the record's object now
            if not await delete(self.vault, self.stored):
                await self._journal("left", self.stored.object_key)
        else:
            log.info("records.recording_unindexed", record_id=self.record_id, reason="record changed")
            if await delete(self.vault, indexed):
                await self._journal("closed", indexed.object_key)  # else its row stays for the sweeper
        return swapped

    async def _journal(self, what: str, key: str) -> None:
        if self.leftovers is not None:
            await (self.leftovers.closed(key, WHOLE_OBJECT) if what == "closed" else self.leftovers.left(key))

    async def _reseal(self) -> SealedObject | None:
        sink = self.vault.sealing_sink(self.record_id, 1, self.kind, self.upload)
        s = self.stored
        source = ObjectRef(s.object_key, s.crypto_id, self.kind, s.plaintext_size, s.ciphertext_size,
                           s.segment_size, s.kek_version, s.wrapped_dek)
        start, end = self.index.body
        try:
            if self.leftovers is not None:
                await self.leftovers.opened(sink.object_key, WHOLE_OBJECT)  # until the swap (see the docstring)
            await sink.write(self.index.head())
            async for piece in self.vault.stream_range(source, start, end - 1, self.window):
                await sink.write(piece)
            return await sink.finish()
        except Exception as exc:  # noqa: BLE001 - the store failed: keep the recording as it came
            await sink.abort()
            log.warning("records.recording_unindexed", record_id=self.record_id, reason="store",
                        exc_type=type(exc).__name__)
            return None
        except BaseException:
            await sink.abort()
            raise

    async def _swap(self, b: SealedObject) -> bool:
        """B in for A, with the length, only if the live record still points at A."""
        try:
            async with self.engine.begin() as conn:
                lengthened = await conn.execute(
                    sa.update(records).where(records.c.id == self.record_id, records.c.state == "active")
                    .values(duration_ms=self.index.duration_ms))
                moved = await conn.execute(
                    sa.update(record_objects)
                    .where(record_objects.c.record_id == self.record_id, record_objects.c.version == 1,
                           record_objects.c.object_key == self.stored.object_key,
                           record_objects.c.wrapped_dek.is_not(None))
                    .values(object_key=b.object_key, crypto_id=b.crypto_id, plaintext_size=b.plaintext_size,
                            ciphertext_size=b.ciphertext_size, segment_size=b.segment_size,
                            content_hash=b.content_hash, kek_version=b.kek_version, wrapped_dek=b.wrapped_dek))
                if lengthened.rowcount != 1 or moved.rowcount != 1:
                    raise _Changed  # rolls the transaction back
        except _Changed:
            return False
        return True


class _Changed(Exception):
    """The record no longer points at A (erased, expired, changed): the swap does not hold."""


async def delete(vault: Vault, stored: SealedObject) -> bool:
    """Delete an object no record points at; False when the store failed (only space is lost: its data
    key is no longer stored, so it is unreadable)."""
    try:
        await vault.discard(stored)
    except Exception as exc:  # noqa: BLE001 - said in the log; the caller leaves it to the sweeper
        log.warning("records.object_left", exc_type=type(exc).__name__)
        return False
    return True
