"""Multipart uploads that a failed recording upload could not abort (the store was down then): the
sweeper aborts them once they are older than any live upload can be. Their parts are sealed bytes
whose key was never stored, so they are unreadable; this only returns the space."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from shared.clock import utcnow
from shared.logging import get_logger
from shared.objectstore import ObjectStore, S3ObjectStore

log = get_logger("tandem.records.orphans")

# A recording upload lives as long as its call; no call lasts a day.
STALE_AFTER = timedelta(hours=24)


def abort_stale_uploads(store: ObjectStore, *, older_than: timedelta = STALE_AFTER,
                        now: datetime | None = None) -> int:
    """Abort the bucket's multipart uploads initiated more than `older_than` ago (one listing page per
    call: the sweeper comes back); returns how many were aborted."""
    if not isinstance(store, S3ObjectStore):
        return 0
    cutoff = (now or utcnow()) - older_than
    listing = store.client._list_multipart_uploads(store.bucket, max_uploads=1000)
    aborted = 0
    for upload in listing.uploads:
        started = upload.initiated_time
        if started is None or upload.upload_id is None or started.astimezone(UTC) > cutoff:
            continue
        store.client._abort_multipart_upload(store.bucket, upload.object_name, upload.upload_id)
        aborted += 1
    if aborted:
        log.info("records.orphaned_uploads_aborted", count=aborted)
    return aborted


async def aabort_stale_uploads(store: ObjectStore, *, older_than: timedelta = STALE_AFTER) -> int:
    return await asyncio.to_thread(abort_stale_uploads, store, older_than=older_than)
