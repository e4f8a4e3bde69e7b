"""Where a recording goes: `RecordingSink` opens an upload that takes WebM chunks as they are muxed.

`HttpRecordingSink` streams them as one chunked HTTP request body to the records ingest endpoint
(`POST /internal/recordings`, service identity; metadata with the consent evidence in the
`tandem-recording` header as base64url JSON). Records stores nothing unless the whole body arrives.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import httpx
import msgspec

METADATA_HEADER = "tandem-recording"


class RecordingMeta(msgspec.Struct, frozen=True):
    session_id: str
    pairing_id: str
    recording_id: str
    started_at: datetime
    consent_evidence: list[dict[str, Any]]


class SinkError(Exception):
    """The sink refused or lost the recording (status code or transport error only, never content)."""


class Upload(Protocol):
    def write(self, chunk: bytes) -> None:
        """Queue a chunk; never blocks (it is called from the muxer on the event loop)."""

    async def finish(self) -> str:
        """End the body and wait for the sink; returns the record id."""

    async def abort(self) -> None: ...


class RecordingSink(Protocol):
    async def open(self, meta: RecordingMeta) -> Upload: ...


HeaderProvider = Callable[[], Awaitable[dict[str, str]]]


class HttpUpload:
    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str], max_buffered: int) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.buffered = 0
        self.max_buffered = max_buffered
        self.failed: str | None = None
        self._task = asyncio.create_task(self._post(client, url, headers))

    async def _body(self) -> AsyncIterator[bytes]:
        while (chunk := await self.queue.get()) is not None:
            self.buffered -= len(chunk)
            yield chunk

    async def _post(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> str:
        try:
            resp = await client.post(url, content=self._body(), headers=headers)
        except httpx.HTTPError as exc:
            raise SinkError(f"transport: {type(exc).__name__}") from None
        if resp.status_code != 201:
            raise SinkError(f"status {resp.status_code}")
        try:
            return str(resp.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise SinkError("unexpected response") from None

    def write(self, chunk: bytes) -> None:
        if self._task.done():
            self.failed = self.failed or "sink-closed"
            return
        self.buffered += len(chunk)
        if self.buffered > self.max_buffered:
            self.failed = "sink-too-slow"
        self.queue.put_nowait(chunk)

    async def finish(self) -> str:
        self.queue.put_nowait(None)
        return await self._task

    async def abort(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


class HttpRecordingSink:
    def __init__(self, url: str, client: httpx.AsyncClient, headers: HeaderProvider | None = None, *,
                 max_buffered: int = 64 * 1024 * 1024) -> None:
        self.url = url
        self.client = client
        self.headers = headers
        self.max_buffered = max_buffered

    async def open(self, meta: RecordingMeta) -> HttpUpload:
        encoded = base64.urlsafe_b64encode(msgspec.json.encode(meta)).rstrip(b"=").decode()
        headers = {"content-type": "video/webm", METADATA_HEADER: encoded}
        if self.headers is not None:
            headers.update(await self.headers())
        return HttpUpload(self.client, self.url, headers, self.max_buffered)


def static_headers(token: str) -> HeaderProvider:
    """A bearer token for the gateway (service account) when the sink URL goes through it."""

    async def provide() -> dict[str, str]:
        return {"authorization": f"Bearer {token}"} if token else {}

    return provide
