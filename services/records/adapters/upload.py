"""Sealed recording bytes from the event loop into an S3 multipart upload, in constant memory.

The request handler seals straight into the current part buffer (`reserve()`), or `write()`s sealed
output that does not fit there (copied once into the part buffers); every full
part goes to a small thread pool that hashes it (the object's SHA-256, in order) and uploads it while
the handler goes on sealing the next one. At most `parallel` parts are in flight and one is being
filled: the `parallel + 1` buffers are mapped once per upload and reused, so memory is flat whatever
the size, and back-pressure is simply waiting for a buffer to come back. They are anonymous mmaps,
not heap memory: returned to the OS when the upload ends whatever glibc's malloc settings, and the
heap never sees part-sized allocations come and go (which, with a low `MALLOC_MMAP_THRESHOLD_`,
cost ~2 CPU-s/GiB in page faults here).

The multipart upload is driven here, through the object store's presigned S3 requests
(`S3ObjectStore.start_upload`, `put_part`, `complete_upload`, `abort_upload`: public SDK API, the
SDK signs them). A part goes out straight from its buffer, with no payload digest, so each byte is
hashed once (for the content hash), not twice. Why not the SDK's own streaming upload
(`put_object(length=-1)`): measured here it costs ~1.4 CPU-s/GiB more (it hashes every part for its
signature and copies each one three times) and ~20 MiB more RSS, growing from upload to upload (heap
fragmentation); it reports a failed part only when the stream ends, that is when the recorder stops
sending, and a stream that fails leaves its worker threads blocked for good.

Giving up is bounded: every store call fails within the client's timeouts (`s3_timeout`, no retry of
a timeout), and `abort()` spends at most `give_up_s` removing what the upload left (parts in flight,
the multipart upload, or the object). What it could not remove in time (the store is down) is logged
as `records.upload_orphaned` and aborted later by the sweeper, which finds it in the `journal` of open
uploads (`recordings/orphans.py`); so is an upload whose process died. Sealed parts without a record are
unreadable anyway (their key was never stored).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import mmap
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from shared.crypto.primitives import Buffer
from shared.logging import get_logger
from shared.objectstore import ObjectStore, S3ObjectStore

log = get_logger("tandem.records.upload")


class UploadAborted(Exception):
    """The object store failed (or the upload was already aborted): nothing is stored."""


class UploadJournal(Protocol):
    """Where open multipart uploads are written down, so that what an upload could not abort is found."""

    async def opened(self, key: str, upload_id: str) -> None: ...

    async def closed(self, key: str, upload_id: str) -> None: ...


class SealedUpload:
    """One object written sequentially by the event loop; `finish()` stores it, `abort()` removes it.

    Only `S3ObjectStore` is supported: the loop drives the multipart upload itself, through the store's
    presigned requests (tests/records/test_upload.py is the contract test).
    """

    def __init__(self, store: ObjectStore, key: str, *, part_size: int, parallel: int,
                 give_up_s: float = 5.0, journal: UploadJournal | None = None) -> None:
        if not isinstance(store, S3ObjectStore):
            raise TypeError("recording uploads need an S3ObjectStore")
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self._store = store
        self._key = key
        self._part_size = part_size
        self._parallel = parallel
        self._pool = ThreadPoolExecutor(parallel, thread_name_prefix="records-upload")
        self._buffers: list[mmap.mmap] = []  # free buffers; at most parallel + 1 ever exist
        self._made = 0
        self._part: mmap.mmap | None = None
        self._pos = 0
        self._number = 0
        self._inflight: dict[asyncio.Future[str], tuple[int, mmap.mmap]] = {}
        self._etags: dict[int, str] = {}
        self._upload_id: str | None = None
        # Parts are hashed on the pool, each after its predecessor (`_hashed` is the last part's turn).
        self._sha256 = hashlib.sha256()
        self._hashed: Future[None] | None = None
        self._size = 0
        self._closed = False
        self._give_up_s = give_up_s
        self._journal = journal
        self._stored = False  # a single PUT was sent, or the multipart upload completed
        self._cleaned: bool | None = None  # abort()'s outcome once it ran

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    def reserve(self, n: int) -> memoryview | None:
        """The next `n` bytes of the object as writable space in the current part, for the caller to fill
        at once (sealing straight into it: no copy); None when they do not fit in it (or no part is
        being filled): then write() them. A reservation never completes a part, so what fills one
        always goes through write(), which hands it off."""
        part, pos = self._part, self._pos
        if part is None or self._closed or pos + n >= self._part_size:
            return None
        self._pos = pos + n
        self._size += n
        return memoryview(part)[pos:pos + n]

    async def write(self, data: Buffer) -> None:
        """Copy `data` into the current part; hand off full parts, waiting while `parallel` are in flight."""
        if self._closed:
            raise UploadAborted
        part, pos = self._part, self._pos
        if part is not None and type(data) is bytes and pos + len(data) < self._part_size:
            # The common case, one sealed segment that fits in the current part: no slicing, no loop.
            n = len(data)
            part[pos:pos + n] = data
            self._pos = pos + n
            self._size += n
            return
        view = memoryview(data).cast("B")
        n = len(view)
        self._size += n
        done = 0
        part_size = self._part_size
        while done < n:
            if self._part is None:
                self._part = await self._free_buffer()
                self._pos = 0
            take = min(n - done, part_size - self._pos)
            self._part[self._pos:self._pos + take] = view[done:done + take]
            self._pos += take
            done += take
            if self._pos == part_size:
                part, self._part = self._part, None
                await self._submit(part, part_size)

    async def finish(self) -> str:
        """Upload what is left, complete the object; returns the SHA-256 (hex) of exactly the stored bytes."""
        if self._closed:
            raise UploadAborted
        try:
            part, length = self._part, self._pos
            self._part = None
            if self._upload_id is None:  # smaller than one part: a single PUT
                data = memoryview(part)[:length] if part is not None else memoryview(b"")
                self._stored = True  # it may get through even if we never see the answer
                await self._run(self._put_single, data)
            else:
                if part is not None and length:
                    await self._submit(part, length)
                while self._inflight:
                    await self._reap()
                etags = [self._etags[n] for n in range(1, self._number + 1)]
                self._stored = True
                await self._run(self._store.complete_upload, self._key, self._upload_id, etags)
                await self._closed_upload()
        except BaseException:
            await self.abort()
            raise
        self._closed = True
        self._pool.shutdown(wait=False)
        self._buffers.clear()
        return self._sha256.hexdigest()

    async def abort(self) -> bool:
        """Remove whatever this upload left in the store, within `give_up_s`: drop queued parts, wait
        for running ones, abort the multipart upload, or delete the object (a single PUT that may have
        got through, or a completed upload whose record could not be written). Never raises; True when
        nothing is left, False when the store did not answer in time (logged, left to the sweeper)."""
        if self._cleaned is not None:
            return self._cleaned
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_s
        self._closed = True
        self._cleaned = False  # a second call while this one runs must not start another clean-up
        self._pool.shutdown(wait=False, cancel_futures=True)
        clean = True
        if self._inflight:
            # Collects failures and cancellations without raising; a part still running at the deadline
            # may land after the abort: the multipart upload is then left to the sweeper.
            _, running = await asyncio.wait(self._inflight, timeout=max(deadline - loop.time(), 0.0))
            clean = not running
        self._inflight.clear()
        if self._upload_id is not None:  # gone already if it completed: that counts as done
            aborted = await _within(deadline, functools.partial(self._store.abort_upload, self._key,
                                                                self._upload_id))
            if aborted:
                await self._closed_upload()
            clean = aborted and clean
        if self._stored:
            clean = await _within(deadline, functools.partial(self._store.delete, self._key)) and clean
        self._buffers.clear()
        self._part = None
        if not clean:
            log.warning("records.upload_orphaned", upload_id=self._upload_id, multipart=self._upload_id is not None)
        self._cleaned = clean
        return clean

    # -- internals (event loop) ----------------------------------------------------------------------
    async def _free_buffer(self) -> mmap.mmap:
        while not self._buffers:
            if self._made <= self._parallel:
                self._made += 1
                return mmap.mmap(-1, self._part_size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            await self._reap()
        return self._buffers.pop()

    async def _submit(self, part: mmap.mmap, length: int) -> None:
        if self._upload_id is None:
            self._upload_id = await self._run(self._store.start_upload, self._key)
            if self._journal is not None:
                await self._journal.opened(self._key, self._upload_id)
        while len(self._inflight) >= self._parallel:
            await self._reap()
        self._number += 1
        prev, mine = self._hashed, Future[None]()
        self._hashed = mine
        fut = self._pool.submit(self._hash_and_upload, self._number, memoryview(part)[:length], prev, mine)
        self._inflight[asyncio.wrap_future(fut)] = (self._number, part)

    async def _reap(self) -> None:
        """Wait for one part upload to end; its buffer becomes free. A failed part fails the upload."""
        done, _ = await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
        for fut in done:
            number, part = self._inflight.pop(fut)
            self._etags[number] = _stored(fut.result)
            self._buffers.append(part)

    async def _closed_upload(self) -> None:
        if self._journal is not None and self._upload_id is not None:
            await self._journal.closed(self._key, self._upload_id)

    async def _run(self, fn: Any, *args: Any) -> Any:
        fut = asyncio.wrap_future(self._pool.submit(fn, *args))
        await asyncio.wait([fut])
        return _stored(fut.result)

    # -- internals (pool threads) --------------------------------------------------------------------
    def _put_single(self, data: memoryview) -> None:
        self._sha256.update(data)
        self._store.client.put_object(bucket_name=self._store.bucket, object_name=self._key,
                                      data=io.BytesIO(data), length=len(data))

    def _hash_and_upload(self, number: int, data: memoryview, prev: Future[None] | None,
                         mine: Future[None]) -> str:
        # The pool runs tasks in submission order, so the predecessor has started and will hash first.
        try:
            if prev is not None:
                prev.result()
            self._sha256.update(data)  # hashlib releases the GIL for large buffers
        except BaseException as exc:
            mine.set_exception(exc)  # never leave the next part waiting
            raise
        mine.set_result(None)
        return self._upload_part(number, data)

    def _upload_part(self, number: int, data: memoryview) -> str:
        """UploadPart straight from the part buffer (a presigned request: no payload digest, so no second
        hash of the part). The digest would add nothing for us: the bytes are AES-GCM segments, each
        authenticated and bound to the object header, so a part altered on the way fails to open at
        playback (fail closed), and the record keeps the SHA-256 of what was sent. The request itself
        (method, key, part number, upload id, expiry) stays signed."""
        return self._store.put_part(self._key, str(self._upload_id), number, data)


async def _within(deadline: float, fn: Callable[[], object]) -> bool:
    """Run a store call on a thread until `deadline`; False if it failed or is still waiting then (the
    thread ends by itself within the client's timeouts)."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        return False
    try:
        await asyncio.wait_for(asyncio.to_thread(fn), remaining)
    except Exception as exc:  # noqa: BLE001 - clean-up is best effort; the sweeper retries it
        log.warning("records.upload_cleanup_failed", exc_type=type(exc).__name__, code=getattr(exc, "code", None))
        return False
    return True


def _stored(result: Any) -> Any:
    """The result of a store call; any failure of the store becomes UploadAborted (cause logged by type)."""
    try:
        return result()
    except UploadAborted:
        raise
    except Exception as exc:
        # Type and S3 code only: messages can carry URLs, and nothing here needs the object key.
        log.warning("records.upload_failed", exc_type=type(exc).__name__, code=getattr(exc, "code", None))
        raise UploadAborted from exc
