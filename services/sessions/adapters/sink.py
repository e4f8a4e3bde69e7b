"""Where a recording goes: `RecordingSink` opens an upload that takes WebM chunks as they are muxed.

`HttpRecordingSink` streams them as one chunked HTTP request body to the records ingest endpoint
(`POST /internal/recordings`, service identity; metadata with the consent evidence in the
`tandem-recording` header as base64url JSON). Records stores nothing unless the whole body arrives.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
import msgspec
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # Authlib 1.9 nudges towards the `httpx2` package, which is not installed here; httpx works.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

METADATA_HEADER = "tandem-recording"


class RecordingMeta(msgspec.Struct, frozen=True):
    session_id: str
    pairing_id: str
    recording_id: str
    started_at: datetime
    consent_evidence: list[dict[str, Any]]


STORAGE_UNAVAILABLE = "storage_unavailable"


class SinkError(Exception):
    """The sink refused or lost the recording (status code or transport error only, never content).
    `code` says why in a word the recording's state and the members are given."""

    def __init__(self, message: str, code: str = "failed") -> None:
        super().__init__(message)
        self.code = code


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
        self.on_failure: Callable[[str], None] | None = None
        self._task = asyncio.create_task(self._post(client, url, headers))
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[str]) -> None:
        """The sink answered (or the connection broke) before the body ended: records gave up (e.g. its
        store is down, 503). Stop streaming now rather than at the next chunk or the end of the call."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self.failed = self.failed or (exc.code if isinstance(exc, SinkError) else "sink-closed")
        while not self.queue.empty():  # nothing more goes out: drop what is queued
            self.queue.get_nowait()
        self.buffered = 0
        if self.on_failure is not None:
            self.on_failure(self.failed)

    async def _body(self) -> AsyncIterator[bytes]:
        while (chunk := await self.queue.get()) is not None:
            self.buffered -= len(chunk)
            yield chunk

    async def _post(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> str:
        try:
            resp = await client.post(url, content=self._body(), headers=headers)
        except httpx.HTTPError as exc:
            raise SinkError(f"transport: {type(exc).__name__}") from None
        if resp.status_code == 503:
            raise SinkError("status 503", STORAGE_UNAVAILABLE)
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


@dataclass(eq=False)
class ClientCredentials:
    """Bearer tokens for a gateway service account (OAuth 2 client credentials, RFC 6749 §4.4, via
    Authlib), fetched when needed and reused until shortly before they expire."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = field(default="api", kw_only=True)
    clock: Callable[[], float] = field(default=time.monotonic, kw_only=True)
    margin_s: float = field(default=30.0, kw_only=True)
    _token: str | None = field(init=False, default=None, repr=False)
    _valid_until: float = field(init=False, default=0.0)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    async def __call__(self) -> dict[str, str]:
        async with self._lock:
            if self._token is None or self.clock() >= self._valid_until:
                async with AsyncOAuth2Client(self.client_id, self.client_secret, scope=self.scope,
                                             timeout=10.0) as oauth:
                    try:
                        token = await oauth.fetch_token(self.token_url, grant_type="client_credentials")
                    except (httpx.HTTPError, OAuthError) as exc:
                        raise SinkError(f"token: {type(exc).__name__}") from None
                self._token = str(token["access_token"])
                lifetime = float(token.get("expires_in") or 60)
                self._valid_until = self.clock() + max(lifetime - self.margin_s, lifetime / 2)
            return {"authorization": f"Bearer {self._token}"}
