"""Streaming sealed bytes from the event loop into the MinIO SDK's multipart upload (a thread).

The SDK's part reader calls `read(n)` until it has n bytes and assumes it never gets more than n
(RUNTIME.md): `SealedPipe.read(n)` returns exactly n bytes except at EOF. A bounded queue between
the request handler and the upload thread keeps memory constant whatever the size.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import queue
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from minio.datatypes import Part

from shared.objectstore import ObjectStore, S3ObjectStore


class UploadAborted(Exception):
    """The producer gave up (client went away, size limit, error): the upload must fail."""


_EOF = object()
_ABORT = object()


class SealedPipe:
    """A file-like with a bounded queue in front of it; the writer side is async."""

    def __init__(self, max_chunks: int) -> None:
        self._q: queue.Queue[object] = queue.Queue(max_chunks)
        self._buf = bytearray()
        self._eof = False
        # SHA-256 of exactly the bytes handed to the uploader (= the stored object), computed on the
        # upload thread so the event loop only receives and seals.
        self.sha256 = hashlib.sha256()

    # -- reader side (upload thread) ----------------------------------------------------------------
    def read(self, n: int = -1) -> bytes:
        buf = self._buf
        while (n < 0 or len(buf) < n) and not self._eof:
            item = self._q.get()
            if item is _EOF:
                self._eof = True
            elif item is _ABORT:
                raise UploadAborted
            else:
                assert isinstance(item, bytes)  # noqa: S101 - only bytes are queued
                buf += item
        if n < 0 or n >= len(buf):
            out = bytes(buf)
            buf.clear()
        else:
            # One copy out of the buffer; the remainder (less than one batch) moves to the front.
            with memoryview(buf) as view:
                out = bytes(view[:n])
            del buf[:n]
        self.sha256.update(out)
        return out

    # -- writer side (event loop) ------------------------------------------------------------------
    async def write(self, data: bytes, upload: asyncio.Future[Any]) -> None:
        if data:
            await self._put(data, upload)

    async def close(self, upload: asyncio.Future[Any]) -> None:
        await self._put(_EOF, upload)

    def abort(self) -> None:
        """Make the reader fail at its next read; never blocks (drops queued data to make room)."""
        while True:
            try:
                self._q.put_nowait(_ABORT)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._q.get_nowait()

    async def _put(self, item: object, upload: asyncio.Future[Any]) -> None:
        try:
            self._q.put_nowait(item)
            return
        except queue.Full:
            pass
        # Back-pressure: S3 is slower than the client. Wait in a thread, checking the uploader lives.
        while True:
            if upload.done():
                raise UploadAborted
            try:
                await asyncio.to_thread(self._q.put, item, True, 0.5)
                return
            except queue.Full:
                continue


def put_stream(store: ObjectStore, key: str, reader: SealedPipe, *, part_size: int, parallel: int) -> None:
    """Multipart upload of unknown length with at most `parallel` parts in flight.

    With the S3 adapter this drives the SDK's multipart calls itself: `put_object(length=-1)` copies
    each part two or three times and keeps up to four parts alive, which alone cost ~45 MB of RSS
    here; this loop holds (parallel + 1) parts and no copies. Other stores use their `put_stream`."""
    if not isinstance(store, S3ObjectStore):
        store.put_stream(key, reader, part_size=part_size)  # type: ignore[arg-type]
        return
    client, bucket = store.client, store.bucket
    data = reader.read(part_size)
    if len(data) < part_size:  # small object: one plain PUT
        client.put_object(bucket, key, io.BytesIO(data), len(data))
        return
    # Private SDK calls (minio 7.2, pinned <8); the contract test in tests/records covers them.
    upload_id = client._create_multipart_upload(bucket, key, {"Content-Type": "application/octet-stream"})
    try:
        with ThreadPoolExecutor(parallel, thread_name_prefix="records-upload") as pool:
            inflight: dict[Future[str], int] = {}
            etags: dict[int, str] = {}
            number = 0
            while data:
                number += 1
                inflight[pool.submit(client._upload_part, bucket, key, data, None, upload_id, number)] = number
                del data  # the pool holds the part now; keep no second reference
                while len(inflight) >= parallel:
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        etags[inflight.pop(fut)] = fut.result()  # raises the part's error
                data = reader.read(part_size)
            for fut in list(inflight):
                etags[inflight.pop(fut)] = fut.result()
        client._complete_multipart_upload(bucket, key, upload_id, [Part(n, etags[n]) for n in sorted(etags)])
    except BaseException:
        with contextlib.suppress(Exception):
            client._abort_multipart_upload(bucket, key, upload_id)
        raise
