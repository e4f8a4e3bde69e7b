"""A lean HTTP/1.1 client for the proxy: asyncio streams, httptools (llhttp) parsing, a keep-alive pool.

httpx/httpcore spent more time per request on their own bookkeeping (anyio wrappers, pool scheduling,
extra-info probes) than on the bytes, and h11's pure-Python state machine cost more than the rest of
the relay; the proxy needs none of their features (no cookies, redirects, decoding, TLS to internal
services on loopback or a private network). Responses are parsed by llhttp (httptools, which uvicorn
uses for the other direction); requests are framed here: a head whose header names and values are
checked, then the body as received (`content-length` given) or chunked. Bodies stream both ways. A
reused connection the service closed while idle is retried once on a fresh one, but only when no
request body was sent yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

CHUNK = 64 * 1024
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 field names and methods
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_TOKENS = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:,[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*")  # names, comma-joined


class UpstreamError(Exception):
    """The service could not be reached or broke the exchange."""


class UpstreamTimeout(UpstreamError):
    pass


class _WriteFailed(OSError):
    """Writing the request body to the service failed (it may have answered and closed already)."""


class _HeadersOnly(Exception):
    """Stops llhttp after the head of a response that has no body whatever its headers say (HEAD)."""


@dataclass
class _Message:
    """What llhttp reported for one response (it calls these methods while `feed_data` runs)."""

    headers_only: bool = False
    parser: httptools.HttpResponseParser | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    head_done: bool = False
    informational: bool = False
    body: list[bytes] = field(default_factory=list)
    complete: bool = False
    keep_alive: bool = False  # llhttp's verdict, read when the message ends (it resets afterwards)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None  # noqa: S101 - set before the first feed
        self.head_done = True
        self.informational = self.informational or self.parser.get_status_code() < 200
        if self.headers_only:
            self.complete, self.keep_alive = True, self.parser.should_keep_alive()
            raise _HeadersOnly

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.parser is not None  # noqa: S101 - set before the first feed
        self.complete, self.keep_alive = True, self.parser.should_keep_alive()


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()
        self.reused = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, timeout: float | None) -> bytes:
        """The next bytes; b"" once the service has closed the connection."""
        try:
            async with asyncio.timeout(timeout):  # not wait_for: no extra task (and loop turn) per read
                return await self.reader.read(CHUNK)
        except TimeoutError:
            raise UpstreamTimeout("read timeout") from None


class _Response:
    """Parses one response off a connection, head first, then the body as it arrives."""

    def __init__(self, conn: _Conn, *, headers_only: bool) -> None:
        self.conn = conn
        self.message = _Message(headers_only=headers_only)
        self.parser = httptools.HttpResponseParser(self.message)
        self.message.parser = self.parser
        self.early = False  # answered before the request body was all sent: the connection is not reusable

    def _feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _HeadersOnly):
                raise UpstreamError("unparseable response") from None
        except httptools.HttpParserError:
            raise UpstreamError("unparseable response") from None

    async def _more(self, timeout: float | None) -> None:
        data = await self.conn.read(timeout)
        if data:
            self._feed(data)
        elif self.message.head_done and self._until_close():
            self.message.complete, self.message.keep_alive = True, False  # the close ends such a body
        else:
            raise UpstreamError("connection closed by the service")

    def _until_close(self) -> bool:
        """A body without a length or chunked framing runs until the service closes (RFC 9112 6.3)."""
        names = {name.lower(): value.lower() for name, value in self.message.headers}
        return b"content-length" not in names and b"chunked" not in names.get(b"transfer-encoding", b"") \
            and self.parser.get_status_code() not in (204, 304)

    async def head(self, timeout: float | None) -> int:
        """Read up to the end of the response's head; returns its status."""
        while not self.message.head_done:
            await self._more(timeout)
        status = int(self.parser.get_status_code())
        if status < 200 or self.message.informational:
            # The proxy never sends `Expect` and relays no upgrades over this client: a 1xx is a broken exchange.
            raise UpstreamError("unexpected informational response")
        return status

    async def chunks(self, timeout: float) -> AsyncIterator[bytes]:
        message = self.message
        while True:
            if message.body:
                pending, message.body = message.body, []
                for chunk in pending:
                    yield chunk
            if message.complete:
                return
            await self._more(timeout)

    def reusable(self) -> bool:
        return self.message.complete and self.message.keep_alive and not self.early


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    _response: _Response
    _pool: UpstreamPool
    _key: tuple[str, int]
    _timeout: float

    def whole_body(self) -> bytes | None:
        """The whole body when the response has already arrived in full (else None: read `body()`)."""
        message = self._response.message
        if not message.complete:
            return None
        whole, message.body = b"".join(message.body), []
        return whole

    async def body(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.chunks(self._timeout):
            yield chunk

    async def aclose(self) -> None:
        if self._response.reusable():
            self._pool.release(self._key, self._response.conn)
        else:
            self._response.conn.close()


def _head(method: str, target: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    if not _TOKEN.match(method.encode("latin-1")) or _BAD_VALUE.search(target.encode("latin-1")) or " " in target:
        raise UpstreamError("invalid request line")
    # Never smuggle a second request through a header: every name a token, no CR, LF or NUL in any value.
    # Checked once over all of them: names joined by commas (no token character, so exactly one between
    # two names, and an empty name leaves two in a row or one at an end).
    if headers:
        names = b",".join(name for name, _ in headers)
        if names.count(b",") != len(headers) - 1 or not _TOKENS.fullmatch(names) or \
                _BAD_VALUE.search(b"".join(value for _, value in headers)):
            raise UpstreamError("invalid header")
    lines = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1")]
    lines.extend(b"%s: %s\r\n" % (name, value) for name, value in headers)
    lines.append(b"\r\n")
    return b"".join(lines)


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
        length: int | None = None
        for name, value in headers:
            if name.lower() == b"content-length":
                if not value.strip().isdigit():
                    raise UpstreamError("invalid content-length")
                length = int(value)
        chunked = body is not None and length is None
        if chunked:
            all_headers.append((b"transfer-encoding", b"chunked"))  # a stream of unknown length
        head = _head(method, target, all_headers)
        for attempt in (1, 2):
            conn = await self._connect(key)
            sent_body = False
            try:
                response = _Response(conn, headers_only=method == "HEAD")
                if body is None:
                    await conn.write(head)
                    status = await response.head(timeout)
                elif length is not None and length <= CHUNK:
                    # Small enough for the socket buffers whether or not the service reads it: an early
                    # answer is read right after, and the common small request spares two tasks.
                    sent_body = True
                    await conn.write(head)
                    await self._send_body(conn, body, chunked, length)
                    status = await response.head(timeout)
                else:
                    sent_body = True
                    await conn.write(head)
                    status = await self._send_body_until_answered(conn, response, body, chunked, length, timeout)
                return UpstreamResponse(status, list(response.message.headers), response, self, key, timeout)
            except UpstreamTimeout:
                conn.close()
                raise
            except (OSError, UpstreamError) as exc:
                conn.close()
                # A kept-alive connection the service had closed: safe to retry if nothing of ours went out.
                if attempt == 1 and conn.reused and not sent_body:
                    continue
                raise UpstreamError(f"exchange failed: {type(exc).__name__}") from None
        raise UpstreamError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _send_body_until_answered(self, conn: _Conn, response: _Response, body: AsyncIterator[bytes],
                                        chunked: bool, length: int | None, timeout: float) -> int:
        """Send the body while listening for the answer; returns its status.

        A service may answer before it has read the whole body (a refusal, or its own dependency gave
        out mid-upload). That answer is final, so it is relayed at once: the rest of the body is neither
        read from the client nor sent on, and the connection is closed afterwards (the service's view of
        the half-sent body is unknowable). No read timeout applies while the body is still going out: a
        long upload is not a silent service.
        """
        sender = asyncio.create_task(self._send_body(conn, body, chunked, length))
        answer = asyncio.create_task(response.head(None))
        try:
            await asyncio.wait((sender, answer), return_when=asyncio.FIRST_COMPLETED)
            if answer.done():
                status = answer.result()  # a broken answer raises here, whatever the sender was doing
                if not sender.done():
                    response.early = True
                return status
            failed = sender.exception()
            if failed is not None and not isinstance(failed, _WriteFailed):
                raise failed  # the client went away, or its body broke its own framing
            # The body went out, or the service stopped taking it: its answer (or its silence) says which.
            try:
                return await asyncio.wait_for(answer, timeout)
            except TimeoutError:
                raise UpstreamTimeout("read timeout") from None
        finally:
            for task in (sender, answer):
                task.cancel()
            await asyncio.gather(sender, answer, return_exceptions=True)

    @staticmethod
    async def _send_body(conn: _Conn, body: AsyncIterator[bytes], chunked: bool, length: int | None) -> None:
        sent = 0
        async for chunk in body:
            if not chunk:
                continue
            sent += len(chunk)
            if length is not None and sent > length:
                raise UpstreamError("request body longer than its content-length")
            try:
                if chunked:
                    conn.writer.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
                    await conn.writer.drain()
                else:
                    await conn.write(chunk)
            except OSError as exc:
                raise _WriteFailed(type(exc).__name__) from None
        if length is not None and sent != length:
            raise UpstreamError("request body shorter than its content-length")
        if chunked:
            try:
                await conn.write(b"0\r\n\r\n")
            except OSError as exc:
                raise _WriteFailed(type(exc).__name__) from None

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
