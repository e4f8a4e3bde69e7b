"""Inspection helpers for the reports tests: everything the service stored, published or logged, as text to search."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis

from services.reports.adapters.db import metadata
from shared.db import create_engine
from shared.events import decode_envelope


async def db_dump(url: str) -> list[tuple[str, dict[str, Any]]]:
    """Every row of every table of the reports database."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = []
            for table in metadata.sorted_tables:
                for row in (await conn.execute(sa.select(table))).mappings():
                    rows.append((table.name, dict(row)))
            return rows
    finally:
        await engine.dispose()


def contains(rows: list[tuple[str, dict[str, Any]]], needle: str) -> list[str]:
    """Where `needle` appears in any column (text or bytes)."""
    hits = []
    raw = needle.encode()
    for table, row in rows:
        for column, value in row.items():
            if (isinstance(value, bytes) and raw in value) or (not isinstance(value, bytes) and needle in str(value)):
                hits.append(f"{table}.{column}")
    return hits


async def stream_events(redis: Redis, stream: str) -> list[Any]:
    return [decode_envelope(fields[b"envelope"]) for _, fields in await redis.xrange(stream)]


async def redis_dump(redis: Redis) -> str:
    """Every key, and every stream entry / string value, as one searchable text."""
    parts = []
    async for key in redis.scan_iter(count=1000):
        parts.append(key.decode(errors="replace"))
        kind = (await redis.type(key)).decode()
        if kind == "stream":
            parts.extend(repr(fields) for _, fields in await redis.xrange(key))
        elif kind == "string":
            parts.append(repr(await redis.get(key)))
        elif kind == "hash":
            parts.append(repr(await redis.hgetall(key)))
        elif kind == "set":
            parts.append(repr(await redis.smembers(key)))
    return "\n".join(parts)
