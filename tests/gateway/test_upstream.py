"""The proxy's HTTP/1.1 client against a raw server that misbehaves the ways real ones do."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from services.gateway.proxy.upstream import UpstreamError, UpstreamPool, UpstreamTimeout


async def _server(handler) -> tuple[asyncio.Server, str]:  # type: ignore[no-untyped-def]
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def _serving(handler) -> AsyncIterator[tuple[str, UpstreamPool]]:  # type: ignore[no-untyped-def]
    """A raw server and a pool to talk to it; both closed afterwards."""
    server, url = await _server(handler)
    pool = UpstreamPool()
    try:
        yield url, pool
    finally:
        await pool.aclose()
        await asyncio.sleep(0.05)  # let the handlers see the close and release their sockets
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return body
            body += chunk[:-2]
    return b""


async def _collect(pool: UpstreamPool, method: str, url: str, body: AsyncIterator[bytes] | None = None) -> bytes:
    response = await pool.request(method, url, [], body, timeout=5)
    try:
        return b"".join([c async for c in response.body()])
    finally:
        await response.aclose()


async def test_keepalive_reuse_and_silent_close_retry() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        finally:
            writer.close()  # closes without saying so: the pooled connection is dead

    async with _serving(handler) as (url, pool):
        for _ in range(3):
            assert await _collect(pool, "GET", url + "/x") == b"ok"
        assert connections == 3


async def test_streamed_body_chunked_and_kept_alive() -> None:
    seen: list[bytes] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                seen.append(await _read_request(reader))
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def body() -> AsyncIterator[bytes]:
        for part in (b"hello ", b"", b"world"):
            yield part

    async with _serving(handler) as (url, pool):
        for _ in range(2):
            assert await _collect(pool, "POST", url + "/u", body()) == b"abc"
        assert seen == [b"hello world", b"hello world"] and connections == 1


async def test_timeouts_and_refusals() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # never answers; returns when the client gives up and closes
        finally:
            writer.close()

    async with _serving(silent) as (url, pool):
        with pytest.raises(UpstreamTimeout):
            await pool.request("GET", url + "/", [], None, timeout=0.2)
        with pytest.raises(UpstreamError):
            await pool.request("GET", "http://127.0.0.1:9/", [], None, timeout=1)
        with pytest.raises(UpstreamError):
            await pool.request("GET", "https://127.0.0.1/", [], None, timeout=1)


async def test_head_responses_have_no_body_and_the_connection_is_kept() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"HEAD"):  # the length of the body a GET would get, and no body
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async with _serving(handler) as (url, pool):
        for method, expected in (("HEAD", b""), ("GET", b"abc"), ("HEAD", b""), ("GET", b"abc")):
            assert await _collect(pool, method, url + "/h") == expected
        assert connections == 1


async def test_broken_exchanges_are_upstream_errors() -> None:
    replies = iter([b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
                    b"garbage that is not HTTP\r\n\r\n",
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(next(replies))
            await writer.drain()
        finally:
            writer.close()

    async with _serving(handler) as (url, pool):
        for _ in range(3):
            with pytest.raises(UpstreamError):
                await _collect(pool, "GET", url + "/")
        # Nothing we send can smuggle a second request: CR/LF in a header value, a bad name, bad lengths.
        for headers in ([(b"x-a", b"1\r\nGET /admin HTTP/1.1")], [(b"bad name", b"1")], [(b"content-length", b"x")],
                        [(b"", b"1")], [(b"x-a", b"1"), (b"", b"2")], [(b"a,b", b"1")],
                        [(b"x-a", b"1"), (b"x-b", b"\x00")]):
            with pytest.raises(UpstreamError):
                await pool.request("GET", url + "/", headers, None, timeout=1)

        async def three() -> AsyncIterator[bytes]:
            yield b"abc"

        with pytest.raises(UpstreamError):
            await pool.request("POST", url + "/", [(b"content-length", b"5")], three(), timeout=1)


async def test_a_body_ended_by_the_close_is_complete_and_not_reused() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ")
            await writer.drain()
            writer.write(b"the close")
            await writer.drain()
        finally:
            writer.close()

    async with _serving(handler) as (url, pool):
        for _ in range(2):
            assert await _collect(pool, "GET", url + "/c") == b"until the close"
        assert connections == 2


async def test_an_early_answer_is_returned_at_once_and_the_body_stops() -> None:
    """A service that answers 503 after the first few KiB of a large upload (its object store died): the
    answer comes back while the body is still going out, the body is read no further, and the connection
    is not reused. The service keeps reading and discarding, as uvicorn does, so a client that held the
    answer back until the whole body was sent would still finish (and fail on the bytes it pulled)."""
    first = 16 * 1024

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(first)
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\ncontent-length: 4\r\n\r\ngone")
        await writer.drain()
        with contextlib.suppress(OSError):
            while await reader.read(1 << 20):
                pass
        writer.close()

    pulled = 0
    total = 256 << 20

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        chunk = b"x" * (64 * 1024)
        while pulled < total:
            await asyncio.sleep(0)  # as the ASGI server's receive() does between chunks
            pulled += len(chunk)
            yield chunk

    async with _serving(handler) as (url, pool):
        response = await pool.request("PUT", url + "/upload", [(b"content-length", str(total).encode())], body(),
                                      timeout=5)
        at_answer = pulled
        assert response.status == 503
        assert b"".join([c async for c in response.body()]) == b"gone"
        await response.aclose()
        assert pool._idle == {} or all(not conns for conns in pool._idle.values())
        await asyncio.sleep(0.05)
        assert pulled == at_answer  # nothing more was read from the client after the answer
    # The socket buffers between the two may hold a few MiB; the body is 256.
    assert at_answer < 16 << 20, at_answer
