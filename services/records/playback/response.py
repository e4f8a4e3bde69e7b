"""A sealed record's plaintext as an HTTP response with Range support, decrypted window by window."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar.response import Response, Stream

from services.records.playback.ranges import Unsatisfiable, parse_range
from shared.http import problem_response

Chunks = Callable[[int, int], AsyncIterator[bytes]]  # plaintext bytes start..end (inclusive)
Before = Callable[[int, int], Awaitable[None]]


async def ranged_response(range_header: str | None, size: int, media_type: str, chunks: Chunks, *,
                          noun: str, before: Before | None = None) -> Response[Any]:
    """200 with the whole plaintext or 206 with one range (416 outside it). `before(start, end)` runs
    once the range is known and before any byte is decrypted (a raise there serves nothing)."""
    try:
        wanted = parse_range(range_header, size)
    except Unsatisfiable:
        return problem_response(416, f"The requested range is outside the {noun}.", slug="range-not-satisfiable",
                                headers={"content-range": f"bytes */{size}", "accept-ranges": "bytes"})
    headers = {"accept-ranges": "bytes", "cache-control": "private, no-store", "x-content-type-options": "nosniff"}
    if wanted is None:
        start, end, status = 0, size - 1, 200
    else:
        start, end, status = wanted.start, wanted.end, 206
        headers["content-range"] = wanted.content_range(size)
    if before is not None:
        await before(start, end)
    if size == 0:
        return Response(b"", media_type=media_type, headers={**headers, "content-length": "0"})
    headers["content-length"] = str(end - start + 1)
    stream = chunks(start, end)
    # Decrypt the first window before answering, so a failure is a clean 500, not a truncated 2xx.
    first = await anext(stream)

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in stream:
            yield chunk

    return Stream(body(), media_type=media_type, status_code=status, headers=headers)
