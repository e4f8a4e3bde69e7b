"""The canonical encoding against its known-answer vector (quoted in docs/audit.md), and its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from services.records.audit import chain
from shared.crypto import signing
from tests.support import vectors

VECTOR = vectors.load("audit_chain")


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def vector_row() -> dict[str, Any]:
    row = dict(VECTOR["entry"])
    row["occurred_at"], row["recorded_at"] = _ts(row["occurred_at"]), _ts(row["recorded_at"])
    row["reason_sealed"] = bytes.fromhex(row.pop("reason_sealed_hex"))
    return row


def test_known_answer_vector() -> None:
    row = vector_row()
    assert chain.canonical_entry(row).hex() == VECTOR["canonical_hex"]
    assert chain.entry_hash(VECTOR["prev_hash"], row) == VECTOR["hash"]
    cp = VECTOR["checkpoint"]
    message = chain.checkpoint_message(cp["seq"], cp["hash"], _ts(cp["signed_at"]))
    assert message.hex() == cp["message_hex"]
    seed = bytes.fromhex(cp["signing_seed_hex"])
    assert signing.public_key(seed).hex() == cp["public_key_hex"]
    assert signing.sign(seed, message).hex() == cp["signature_hex"]
    assert signing.verify(bytes.fromhex(cp["public_key_hex"]), message, bytes.fromhex(cp["signature_hex"]))
    assert not signing.verify(bytes.fromhex(cp["public_key_hex"]), message + b"x", bytes.fromhex(cp["signature_hex"]))


def test_timestamps_encode_the_same_whatever_the_database_returns() -> None:
    aware = datetime(2026, 11, 1, 10, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    naive_utc = datetime(2026, 11, 1, 9, 0, 0, 5)  # noqa: DTZ001 - SQLite hands back naive UTC
    assert chain.utc_text(aware) == chain.utc_text(naive_utc) == "2026-11-01T09:00:00.000005Z"


def test_fields_cannot_run_into_each_other() -> None:
    row = vector_row()
    moved = {**row, "actor": "user:4", "action": "2record.play"}  # same concatenated text
    assert chain.canonical_entry(moved) != chain.canonical_entry(row)
    assert chain.canonical_entry({**row, "target": ""}) != chain.canonical_entry(row)  # "" is not None
    with pytest.raises(TypeError):
        chain.canonical_entry({**row, "seq": True})
