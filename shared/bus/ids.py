"""Redis Stream entry ids and replies: small pure helpers of the bus."""

from __future__ import annotations

from typing import Any

FIELD = "envelope"  # the one field of every stream entry: the encoded envelope


def next_id(entry_id: str) -> str:
    ms, seq = entry_id.split("-")
    return f"{ms}-{int(seq) + 1}"


def id_key(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
