"""What a database and Redis hold as raw bytes: for canary tests ("this text is stored nowhere in clear").

SQLite: the database file and its -wal/-journal files as they are on disk. PostgreSQL: every page of
every table, TOAST table and index of the database's `public` schema, dead row versions included, read
through the buffer cache with `pageinspect` (so nothing depends on a checkpoint; needs a superuser, as
the test server's `postgres` role is). Redis: every key's value, streams entry by entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis

from shared.db import create_engine

_RELATIONS = sa.text(
    "SELECT c.oid::regclass::text AS name, pg_relation_size(c.oid) / current_setting('block_size')::int AS blocks "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 't', 'i') AND c.relpersistence = 'p' AND "
    "(n.nspname = 'public' OR (n.nspname = 'pg_toast' AND c.oid IN ("
    "  SELECT reltoastrelid FROM pg_class WHERE relnamespace = 'public'::regnamespace "
    "  UNION SELECT indexrelid FROM pg_index WHERE indrelid IN ("
    "    SELECT reltoastrelid FROM pg_class WHERE relnamespace = 'public'::regnamespace))))")


async def database_bytes(url: str) -> bytes:
    """Everything the database stores, as raw bytes (see the module docstring)."""
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists())
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            chunks = []
            for name, blocks in (await conn.execute(_RELATIONS)).all():
                for block in range(int(blocks)):
                    page = await conn.execute(sa.text("SELECT get_raw_page(:rel, :blk)"), {"rel": name, "blk": block})
                    chunks.append(bytes(page.scalar_one()))
            return b"".join(chunks)
    finally:
        await engine.dispose()


async def redis_bytes(redis: Redis) -> bytes:
    """Every key and value in the Redis database (streams entry by entry, hashes field by field)."""
    out: list[bytes] = []

    def add(*values: Any) -> None:
        out.extend(v if isinstance(v, bytes) else str(v).encode() for v in values)

    async for key in redis.scan_iter(count=500):
        add(key)
        raw_kind = await redis.type(key)
        kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
        if kind == "string":
            add(await redis.get(key) or b"")
        elif kind == "stream":
            for _id, fields in await redis.xrange(key) or []:
                add(*(x for kv in (fields or {}).items() for x in kv))
        elif kind == "hash":
            add(*(x for kv in (await redis.hgetall(key)).items() for x in kv))
        elif kind == "list":
            add(*await redis.lrange(key, 0, -1))
        elif kind == "set":
            add(*await redis.smembers(key))
        elif kind == "zset":
            add(*await redis.zrange(key, 0, -1))
    return b"".join(out)
