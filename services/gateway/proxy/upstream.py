"""A lean HTTP/1.1 client for the proxy: asyncio streams + h11 framing + a keep-alive pool.

httpx/httpcore spent more time per request on their own bookkeeping (anyio wrappers, pool
scheduling, extra-info probes) than on the bytes; the proxy needs none of their features (no cookies,
redirects, decoding, TLS to internal services on loopback or a private network). Bodies stream both
ways. A reused connection the service closed while idle is retried once on a fresh one, but only
when no request body was sent yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

CHUNK = 64 * 1024


class UpstreamError(Exception):
    """The service could not be reached or broke the exchange."""


class UpstreamTimeout(UpstreamError):
    pass


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.idle_since = time.monotonic()
        self.reused = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def write(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def next_event(self, timeout: float) -> h11.Event:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            try:
                data = await asyncio.wait_for(self.reader.read(CHUNK), timeout)
            except TimeoutError:
                raise UpstreamTimeout("read timeout") from None
            self.h11.receive_data(data)


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    _conn: _Conn
    _pool: UpstreamPool
    _key: tuple[str, int]
    _timeout: float
    _done: bool = False

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            event = await self._conn.next_event(self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
                return
            else:
                raise UpstreamError(f"unexpected {type(event).__name__}")

    async def aclose(self) -> None:
        conn = self._conn
        if self._done and conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            self._pool.release(self._key, conn)
        else:
            conn.close()


class UpstreamPool:
    def __init__(self, *, max_idle_per_host: int = 100, keepalive_s: float = 30.0,
                 connect_timeout: float = 5.0) -> None:
        self.max_idle = max_idle_per_host
        self.keepalive_s = keepalive_s
        self.connect_timeout = connect_timeout
        self._idle: dict[tuple[str, int], list[_Conn]] = {}

    def release(self, key: tuple[str, int], conn: _Conn) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _connect(self, key: tuple[str, int]) -> _Conn:
        now = time.monotonic()
        idle = self._idle.get(key, [])
        while idle:
            conn = idle.pop()
            if now - conn.idle_since < self.keepalive_s and not conn.reader.at_eof():
                conn.reused = True
                return conn
            conn.close()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*key), self.connect_timeout)
        except TimeoutError:
            raise UpstreamTimeout("connect timeout") from None
        except OSError as exc:
            raise UpstreamError(f"connect failed: {type(exc).__name__}") from None
        return _Conn(reader, writer)

    async def request(self, method: str, url: str, headers: list[tuple[bytes, bytes]],
                      body: AsyncIterator[bytes] | None, *, timeout: float) -> UpstreamResponse:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise UpstreamError("only http:// upstreams are supported")  # internal services: loopback/private net
        key = (parts.hostname, parts.port or 80)
        target = url[url.index("/", len(parts.scheme) + 3):] if "/" in url[len(parts.scheme) + 3:] else "/"
        all_headers = [(b"host", parts.netloc.encode("latin-1")), *headers]
        if body is not None and not any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in headers):
            all_headers.append((b"transfer-encoding", b"chunked"))  # a stream of unknown length
        for attempt in (1, 2):
            conn = await self._connect(key)
            sent_body = False
            try:
                await conn.write(h11.Request(method=method, target=target, headers=all_headers))
                if body is not None:
                    sent_body = True
                    async for chunk in body:
                        if chunk:
                            await conn.write(h11.Data(data=chunk))
                await conn.write(h11.EndOfMessage())
                event = await conn.next_event(timeout)
                while isinstance(event, h11.InformationalResponse):
                    event = await conn.next_event(timeout)
                if not isinstance(event, h11.Response):
                    raise UpstreamError(f"unexpected {type(event).__name__}")
                return UpstreamResponse(event.status_code, list(event.headers), conn, self, key, timeout)
            except UpstreamTimeout:
                conn.close()
                raise
            except (OSError, h11.RemoteProtocolError, h11.LocalProtocolError, UpstreamError) as exc:
                conn.close()
                # A kept-alive connection the service had closed: safe to retry if nothing of ours went out.
                if attempt == 1 and conn.reused and not sent_body:
                    continue
                raise UpstreamError(f"exchange failed: {type(exc).__name__}") from None
        raise UpstreamError("unreachable")  # pragma: no cover - the loop returns or raises

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
