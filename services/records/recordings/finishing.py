"""A stored recording gets its length and seek index: the object is sealed again with the new head.

The head of a WebM comes first, and a sealed object cannot be changed in place (every segment is bound
to the object's salt, nonce prefix and position; sealing a changed first segment again under the same
key and nonce would break AES-GCM). So, once the recorder's body is stored as object A, the clusters
are read back from A (decrypted a window at a time, constant memory) behind the new head
(`webm.WebmIndex.head()`) into object B, under a new data key; A is then deleted. The format of both is
the usual sealed stream, and playback reads B by Range like any other object.

It costs a second pass over the recording when the call ends (a read and a write of the same size).
If it cannot be done (the body is not the recorder's WebM, or the store fails while writing B), the
recording is kept as it came, playable without a length: nothing a member consented to record is lost
for want of an index.
"""

from __future__ import annotations

from collections.abc import Callable

from services.records.adapters.vault import Frames, ObjectRef, SealedObject, Vault
from services.records.recordings.orphans import OpenUploads
from services.records.recordings.webm import WebmIndex
from shared.logging import get_logger

log = get_logger("tandem.records.recordings")


async def with_index(vault: Vault, upload: Callable[[str], Frames], leftovers: OpenUploads | None, *,
                     record_id: str, kind: str, stored: SealedObject, index: WebmIndex,
                     window: int) -> SealedObject:
    """`stored` sealed again with `index`'s head in front of its clusters; `stored` itself when it cannot
    be (said in the log). Cancellation removes what was written of the new object and propagates."""
    index.finish()
    if not index.complete:
        log.info("records.recording_unindexed", record_id=record_id, reason=index.failed)
        return stored
    sink = vault.sealing_sink(record_id, 1, kind, upload)
    source = ObjectRef(stored.object_key, stored.crypto_id, kind, stored.plaintext_size, stored.ciphertext_size,
                       stored.segment_size, stored.kek_version, stored.wrapped_dek)
    start, end = index.body
    try:
        await sink.write(index.head())
        async for piece in vault.stream_range(source, start, end - 1, window):
            await sink.write(piece)
        indexed = await sink.finish()
    except Exception as exc:  # noqa: BLE001 - the store failed: keep the recording as it came
        await sink.abort()
        log.warning("records.recording_unindexed", record_id=record_id, reason="store", exc_type=type(exc).__name__)
        return stored
    except BaseException:
        await sink.abort()
        raise
    await discard(vault, leftovers, stored)
    return indexed


async def discard(vault: Vault, leftovers: OpenUploads | None, stored: SealedObject) -> None:
    """Delete an object no record will point at; when the store fails, the sweeper deletes it later."""
    try:
        await vault.discard(stored)
    except Exception as exc:  # noqa: BLE001 - its data key is dropped: unreadable, only space is lost
        log.warning("records.object_left", exc_type=type(exc).__name__)
        if leftovers is not None:
            await leftovers.left(stored.object_key)
