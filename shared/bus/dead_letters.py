"""Dead-letter streams (`<stream>.dead`): operators inspect and replay from them."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from shared.bus.ids import FIELD, text


async def dead_letters(redis: Redis, stream: str, count: int = 100) -> list[dict[str, str]]:
    """Read a dead-letter stream (operators inspect and replay from it)."""
    rows: Any = await redis.xrange(f"{stream}.dead", count=count)
    return [{text(k): text(v) for k, v in fields.items()} | {"dead_id": text(eid)} for eid, fields in rows]


async def replay_dead_letter(redis: Redis, stream: str, dead_id: str) -> str:
    """Put a dead-lettered envelope back on its stream (same event id: handlers stay idempotent)."""
    rows: Any = await redis.xrange(f"{stream}.dead", min=dead_id, max=dead_id)
    if not rows:
        raise LookupError(dead_id)
    fields = rows[0][1]
    new_id = await redis.xadd(stream, {FIELD: fields[FIELD.encode()]})
    await redis.xdel(f"{stream}.dead", dead_id)
    return text(new_id)
