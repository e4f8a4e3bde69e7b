"""Streaming sealed bytes from the event loop into the MinIO SDK's multipart upload (a thread).

The SDK's part reader calls `read(n)` until it has n bytes and assumes it never gets more than n
(RUNTIME.md): `SealedPipe.read(n)` returns exactly n bytes except at EOF. A bounded queue between
the request handler and the upload thread keeps memory constant whatever the size.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from typing import Any


class UploadAborted(Exception):
    """The producer gave up (client went away, size limit, error): the upload must fail."""


_EOF = object()
_ABORT = object()


class SealedPipe:
    """A file-like with a bounded queue in front of it; the writer side is async."""

    def __init__(self, max_chunks: int) -> None:
        self._q: queue.Queue[object] = queue.Queue(max_chunks)
        self._rest = b""
        self._eof = False

    # -- reader side (upload thread) ----------------------------------------------------------------
    def read(self, n: int = -1) -> bytes:
        parts = [self._rest] if self._rest else []
        have = len(self._rest)
        self._rest = b""
        while (n < 0 or have < n) and not self._eof:
            item = self._q.get()
            if item is _EOF:
                self._eof = True
            elif item is _ABORT:
                raise UploadAborted
            else:
                assert isinstance(item, bytes)  # noqa: S101 - only bytes are queued
                parts.append(item)
                have += len(item)
        data = b"".join(parts)
        if 0 <= n < len(data):
            self._rest = data[n:]
            data = data[:n]
        return data

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
