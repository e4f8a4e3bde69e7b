"""Multipart uploads that a recording upload left open: the store was down when it tried to abort, or
the process died mid-upload. Each upload is written to `open_uploads` when it starts and removed when it
completes or is aborted (this journal is the upload's `journal`); the sweeper aborts what stayed longer
than any live upload can last. Their parts are sealed bytes whose key was never stored, so they are
unreadable; this only returns the space. Whole objects are journaled too (upload id empty): the indexed
copy of a recording until it replaces the first (`finishing.py`), and an object the store would not
delete; the sweep deletes those only when no record points at them.

The journal, not a listing of the bucket: the SDK has no public ListMultipartUploads, and the journal
names only this service's uploads. An upload killed between the store's answer to CreateMultipartUpload
and the journal's insert (one round trip) is not in it: the store's own expiry of stale uploads (MinIO's
default, or an S3 lifecycle rule) is the backstop for that window.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.lifecycle.tables import record_objects
from services.records.recordings.tables import open_uploads
from shared.clock import Clock, utcnow
from shared.logging import get_logger
from shared.objectstore import ObjectStore, S3ObjectStore

log = get_logger("tandem.records.orphans")

# A recording upload lives as long as its call; no call lasts a day.
STALE_AFTER = timedelta(hours=24)
WHOLE_OBJECT = ""  # the upload id of a journaled whole object to delete (see `left`)


@dataclass(frozen=True)
class OpenUploads:
    """The journal of open multipart uploads, and the sweep of the stale ones."""

    engine: AsyncEngine
    clock: Clock = utcnow

    async def opened(self, key: str, upload_id: str) -> None:
        """Before the first part is sent: a failure here fails the upload (which then aborts it)."""
        async with self.engine.begin() as conn:
            await conn.execute(sa.insert(open_uploads).values(object_key=key, upload_id=upload_id,
                                                              started_at=self.clock()))

    async def closed(self, key: str, upload_id: str) -> None:
        """The upload completed or was aborted. Best effort: a row left behind costs the sweeper one abort
        that the store answers NoSuchUpload."""
        try:
            await self._forget(key, upload_id)
        except SQLAlchemyError as exc:
            log.warning("records.open_upload_not_cleared", exc_type=type(exc).__name__)

    async def left(self, key: str) -> None:
        """A stored object that no record points at and that could not be deleted (the store failed):
        the next sweep deletes it. Best effort, like `closed`."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(sa.insert(open_uploads).values(object_key=key, upload_id=WHOLE_OBJECT,
                                                                  started_at=self.clock() - STALE_AFTER))
        except SQLAlchemyError as exc:
            log.warning("records.object_left_unjournaled", exc_type=type(exc).__name__)

    async def abort_stale(self, store: ObjectStore, *, older_than: timedelta = STALE_AFTER,
                          batch: int = 100) -> int:
        """Abort up to `batch` uploads opened more than `older_than` ago (the sweeper comes back for
        more); returns how many. A store that fails stops the round with its error."""
        if not isinstance(store, S3ObjectStore):
            return 0
        query = (sa.select(open_uploads.c.object_key, open_uploads.c.upload_id)
                 .where(open_uploads.c.started_at <= self.clock() - older_than)
                 .order_by(open_uploads.c.started_at).limit(batch))
        async with self.engine.connect() as conn:
            stale = (await conn.execute(query)).all()
        for key, upload_id in stale:
            if upload_id == WHOLE_OBJECT:
                if not await self._pointed_at(key):  # a record's object is never swept (see `left`)
                    await asyncio.to_thread(store.delete, key)  # gone already is fine
            else:
                await asyncio.to_thread(store.abort_upload, key, upload_id)  # gone already: NoSuchUpload is fine
            await self._forget(key, upload_id)
        if stale:
            log.info("records.orphaned_uploads_aborted", count=len(stale))
        return len(stale)

    async def _pointed_at(self, key: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.execute(sa.select(record_objects.c.id).where(record_objects.c.object_key == key))
            return found.first() is not None

    async def _forget(self, key: str, upload_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(open_uploads).where(open_uploads.c.object_key == key,
                                                             open_uploads.c.upload_id == upload_id))
