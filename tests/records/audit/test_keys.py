"""Ledger keys on disk and what they protect."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from services.records.audit.keys import AuditKeys, KeyFileError, is_id_like, load_public_keys
from shared.crypto.errors import DecryptionError


def test_keys_are_created_private_and_reloaded(key_dir: Path) -> None:
    keys = AuditKeys.load_or_create(key_dir)
    for name in ("ledger.key", "checkpoint-signing.key"):
        assert stat.S_IMODE((key_dir / name).stat().st_mode) == 0o600
    again = AuditKeys.load(key_dir)
    assert again.ledger_key == keys.ledger_key and again.public_key == keys.public_key
    assert load_public_keys(key_dir) == {keys.signing_key_id: keys.public_key}
    (key_dir / "ledger.key").chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by group or others"):
        AuditKeys.load(key_dir)


def test_hmac_and_sealing() -> None:
    keys, other = AuditKeys.generate(), AuditKeys.generate()
    assert keys.mac("actor", "a@b.org") == keys.mac("actor", "a@b.org")
    assert keys.mac("actor", "a@b.org") != keys.mac("target", "a@b.org")  # domain-separated by field
    assert keys.mac("actor", "a@b.org") != other.mac("actor", "a@b.org")  # keyed
    sealed = keys.seal_reason("ev-1", "why")
    assert b"why" not in sealed and keys.open_reason("ev-1", sealed) == "why"
    for bad in (lambda: keys.open_reason("ev-2", sealed),  # bound to its entry
                lambda: other.open_reason("ev-1", sealed),
                lambda: keys.open_reason("ev-1", sealed[:-1] + bytes([sealed[-1] ^ 1])),
                lambda: keys.open_reason("ev-1", b"\x01")):
        with pytest.raises(DecryptionError):
            bad()


@pytest.mark.parametrize(("value", "clear"), [("user:42", True), ("record:ab12#bytes=0-99", True),
                                              ("a@b.org", False), ("free text", False), ("x" * 201, False),
                                              ("", False)])
def test_only_id_like_values_are_kept_in_clear(value: str, clear: bool) -> None:
    assert is_id_like(value) is clear
