"""Canonical encoding of ledger rows and checkpoints, and the chain hash. Pure functions, no I/O.

Entry hash = SHA-256(prev_hash (32 raw bytes) || canonical entry), where the canonical entry is

    b"tandem-audit-entry/v1" then, for each field in FIELDS order, one item:
      None  -> 0xFF
      int   -> 0x01 + 8-byte big-endian signed
      str   -> 0x02 + 4-byte big-endian length + UTF-8 bytes
      bytes -> 0x03 + 4-byte big-endian length + bytes
      time  -> encoded as str, UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ" (microseconds, what both databases keep)

The hashed values are the stored column values (HMACs and ciphertext included), so `verify` needs
no secret key, and any change to any stored column of any row changes that row's hash.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.clock import aware

ENTRY_DOMAIN = b"tandem-audit-entry/v1"
CHECKPOINT_DOMAIN = b"tandem-audit-checkpoint/v1"
GENESIS = "0" * 64

FIELDS: tuple[str, ...] = (
    "seq", "event_id", "occurred_at", "recorded_at", "source", "actor", "actor_hmac", "action",
    "target", "target_hmac", "outcome", "reason_hmac", "reason_sealed", "key_id",
)


def utc_text(value: datetime) -> str:
    """The one text form of a timestamp: SQLite hands back naive UTC, PostgreSQL aware UTC."""
    return aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _item(value: Any) -> bytes:
    if value is None:
        return b"\xff"
    if isinstance(value, bool):
        raise TypeError("booleans are not part of the ledger encoding")
    if isinstance(value, int):
        return b"\x01" + struct.pack(">q", value)
    if isinstance(value, datetime):
        value = utc_text(value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return b"\x02" + struct.pack(">I", len(raw)) + raw
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return b"\x03" + struct.pack(">I", len(raw)) + raw
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(domain: bytes, values: Sequence[Any]) -> bytes:
    return domain + b"".join(_item(v) for v in values)


def canonical_entry(row: Mapping[Any, Any]) -> bytes:
    return encode(ENTRY_DOMAIN, [row[name] for name in FIELDS])


def entry_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    """Hex SHA-256 of the previous hash (raw bytes) followed by the canonical entry."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_entry(row)).hexdigest()


def checkpoint_message(seq: int, head_hash: str, signed_at: datetime) -> bytes:
    """What a checkpoint signature covers: the head (seq, hash) and the signing time."""
    return encode(CHECKPOINT_DOMAIN, [seq, head_hash, signed_at])
