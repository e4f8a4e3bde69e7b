"""A service's early answer reaches the client at once: records answers 503 after the first few KiB of a
large upload (its object store died), and the client must read that answer long before it has sent the
rest of its body. Measured in bytes the client sent, never in time."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar import Request, Response, post
from litestar.di import NamedDependency

from shared.identity import Identity
from tests.support.databases import Databases
from tests.support.gateway import Clock
from tests.support.gateway_stack import GatewayStack, gateway_stack

pytestmark = pytest.mark.integration

FIRST = 16 * 1024  # what the service reads before it gives up
TOTAL = 256 << 20
CHUNK = 64 * 1024


@post("/recordings/upload", status_code=200, request_max_body_size=None)
async def upload(request: Request[Any, Any, Any], identity: NamedDependency[Identity]) -> Response[dict[str, str]]:
    got = 0
    async for chunk in request.stream():
        got += len(chunk)
        if got >= FIRST:
            break
    return Response({"detail": "The object store is unavailable."}, status_code=503, headers={"retry-after": "7"})


@pytest.fixture
async def stack(tmp_path: Path, redis_url: str, gateway_db: Callable[..., str], database_url: Databases,
                clock: Clock) -> AsyncIterator[GatewayStack]:
    async with gateway_stack(tmp_path, gateway_db(), redis_url, database_url, clock,
                             routes={"records": [upload]}) as s:
        yield s


async def _upload_until_answered(base: str, headers: dict[str, str]) -> tuple[bytes, int]:
    """Stream TOTAL bytes as one request and read the answer meanwhile; the answer's head and how many
    bytes had left this client when it arrived."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)  # what "sent" counts has left the client
    lines = ["POST /api/records/recordings/upload HTTP/1.1", f"host: {parts.netloc}",
             f"content-length: {TOTAL}", "content-type: application/octet-stream",
             *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent = 0
    head = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    chunk = b"r" * CHUNK
    try:
        while sent < TOTAL and not head.done():
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        return await asyncio.wait_for(head, 60), sent
    finally:
        head.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def test_an_early_503_reaches_the_client_before_the_rest_of_its_body(stack: GatewayStack) -> None:
    h = stack.h
    member = await h.user("m@example.org", ["mentee"])
    answer, sent = await _upload_until_answered(h.url, member.headers())
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 503"), answer
    assert b"retry-after: 7" in answer.lower()
    # Between the client and the service sit four socket buffers (the kernel's own, a few MiB when
    # nobody reads) and no more: the gateway itself holds nothing back.
    assert sent < 32 << 20, sent
    # The gateway serves the next request as usual.
    assert (await h.client.get("/api/records/whoami", headers=member.headers(csrf=False))).status_code == 200
