"""LocalKeyring: file safety, rotation, retirement, rewrap, and wrap/unwrap bindings."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.crypto import (
    WRAPPED_BLOB_SIZE,
    DecryptionError,
    KeyEncryptionKeyProvider,
    KeyringError,
    LocalKeyring,
    StreamContext,
    WrappedKey,
    new_data_key,
    rewrap,
    seal,
    unseal,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def make(tmp_path: Path) -> LocalKeyring:
    return LocalKeyring(tmp_path / "keys" / "keyring.json", clock=lambda: T0)


def test_created_0600_with_one_primary_version(tmp_path: Path) -> None:
    ring = make(tmp_path)
    mode = stat.S_IMODE(os.stat(ring.path).st_mode)
    assert mode == 0o600
    assert ring.primary_version() == 1
    [v] = ring.versions()
    assert (v.version, v.created_at, v.state) == (1, T0, "primary")
    assert isinstance(ring, KeyEncryptionKeyProvider)


def test_created_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        ring = make(tmp_path)
        ring.rotate()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(ring.path).st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_refuses_a_file_readable_by_others(tmp_path: Path, mode: int) -> None:
    ring = make(tmp_path)
    os.chmod(ring.path, mode)
    with pytest.raises(KeyringError, match="chmod 600"):
        LocalKeyring(ring.path)


def test_refuses_a_symlink_and_malformed_files(tmp_path: Path) -> None:
    ring = make(tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(ring.path)
    with pytest.raises(KeyringError):
        LocalKeyring(link)
    bad = tmp_path / "bad.json"
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"format": "tandem-keyring/1", "primary": 2, "versions": []}')
    os.close(fd)
    with pytest.raises(KeyringError, match="malformed") as err:
        LocalKeyring(bad)
    assert "versions" not in str(err.value)


def test_reopen_reads_the_same_keys(tmp_path: Path) -> None:
    ring = make(tmp_path)
    dek = new_data_key()
    wrapped = ring.wrap(dek, record_id="rec-1")
    again = LocalKeyring(ring.path)
    assert again.unwrap(wrapped, record_id="rec-1") == dek
    assert again.versions() == ring.versions()


def test_wrap_binds_record_id_and_version(tmp_path: Path) -> None:
    ring = make(tmp_path)
    dek = new_data_key()
    wrapped = ring.wrap(dek, record_id="rec-1")
    assert wrapped.kek_version == 1 and len(wrapped.blob) == WRAPPED_BLOB_SIZE
    assert dek not in wrapped.blob
    assert ring.unwrap(wrapped, record_id="rec-1") == dek
    with pytest.raises(DecryptionError):
        ring.unwrap(wrapped, record_id="rec-2")
    with pytest.raises(DecryptionError):
        ring.unwrap(WrappedKey(99, wrapped.blob), record_id="rec-1")
    with pytest.raises(DecryptionError):
        ring.unwrap(WrappedKey(1, wrapped.blob[:-1]), record_id="rec-1")
    flipped = bytearray(wrapped.blob)
    flipped[20] ^= 1
    with pytest.raises(DecryptionError):
        ring.unwrap(WrappedKey(1, bytes(flipped)), record_id="rec-1")
    other = LocalKeyring(tmp_path / "other.json")
    with pytest.raises(DecryptionError):
        other.unwrap(wrapped, record_id="rec-1")


def test_rotate_rewrap_retire_lifecycle(tmp_path: Path) -> None:
    ring = make(tmp_path)
    ctx = StreamContext("rec-1", "note")
    dek = new_data_key()
    ct = seal(dek, ctx, b"a confidential note")
    old = ring.wrap(dek, record_id="rec-1")

    assert ring.rotate() == 2
    assert ring.primary_version() == 2
    assert [(v.version, v.state) for v in ring.versions()] == [(1, "active"), (2, "primary")]
    assert ring.unwrap(old, record_id="rec-1") == dek  # old wraps still open while version 1 is active

    new = rewrap(ring, old, record_id="rec-1")
    assert new.kek_version == 2 and new.blob != old.blob
    assert unseal(ring.unwrap(new, record_id="rec-1"), ctx, ct) == b"a confidential note"

    with pytest.raises(KeyringError, match="primary"):
        ring.retire(2)
    with pytest.raises(KeyringError):
        ring.retire(42)
    ring.retire(1)
    ring.retire(1)  # idempotent
    assert [(v.version, v.state) for v in ring.versions()] == [(1, "retired"), (2, "primary")]
    with pytest.raises(DecryptionError):
        ring.unwrap(old, record_id="rec-1")
    with pytest.raises(DecryptionError):
        rewrap(ring, old, record_id="rec-1")
    assert unseal(ring.unwrap(new, record_id="rec-1"), ctx, ct) == b"a confidential note"
    # The retirement is persisted.
    with pytest.raises(DecryptionError):
        LocalKeyring(ring.path).unwrap(old, record_id="rec-1")


def test_rotation_by_another_process_is_seen(tmp_path: Path) -> None:
    service = make(tmp_path)
    cli = LocalKeyring(service.path)  # stands for `tandem keys rotate` in another process
    assert cli.rotate() == 2
    assert service.primary_version() == 2
    wrapped = service.wrap(new_data_key(), record_id="r")
    assert wrapped.kek_version == 2
    cli.retire(1)
    assert [v.state for v in service.versions()] == ["retired", "primary"]


def test_file_holds_no_plain_data_key_and_expected_fields(tmp_path: Path) -> None:
    ring = make(tmp_path)
    dek = new_data_key()
    ring.wrap(dek, record_id="r")
    raw = ring.path.read_bytes()
    assert dek not in raw
    doc = json.loads(raw)
    assert doc["format"] == "tandem-keyring/1" and doc["primary"] == 1
    assert set(doc["versions"][0]) == {"version", "created_at", "state", "key"}
    leftovers = [p.name for p in ring.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_deterministic_with_injected_rng(tmp_path: Path) -> None:
    def rng(n: int) -> bytes:
        return b"\x07" * n

    a = LocalKeyring(tmp_path / "a.json", rng=rng, clock=lambda: T0)
    b = LocalKeyring(tmp_path / "b.json", rng=rng, clock=lambda: T0)
    dek = bytes(32)
    assert a.wrap(dek, record_id="r") == b.wrap(dek, record_id="r")


class NativeRewrapProvider(LocalKeyring):
    """Stands for a KMS that rewraps server-side (Vault transit/rewrap, AWS ReEncrypt)."""

    calls = 0

    def rewrap(self, wrapped: WrappedKey, *, record_id: str) -> WrappedKey:
        type(self).calls += 1
        return self.wrap(self.unwrap(wrapped, record_id=record_id), record_id=record_id)


def test_rewrap_uses_a_provider_native_rewrap(tmp_path: Path) -> None:
    ring = NativeRewrapProvider(tmp_path / "kms.json")
    dek = new_data_key()
    old = ring.wrap(dek, record_id="r")
    ring.rotate()
    new = rewrap(ring, old, record_id="r")
    assert NativeRewrapProvider.calls == 1 and new.kek_version == 2
    assert ring.unwrap(new, record_id="r") == dek


def test_concurrent_rotations_never_lose_a_version(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "shared.json"
    LocalKeyring(path)
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        ring = LocalKeyring(path)  # separate instances: only the file lock serialises them
        for _ in range(5):
            number = ring.rotate()
            with lock:
                results.append(number)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(2, 32))
    final = LocalKeyring(path)
    assert [v.version for v in final.versions()] == list(range(1, 32))
    assert final.primary_version() == 31


def test_unwrap_failures_log_a_cause_without_key_material(tmp_path: Path) -> None:
    import structlog

    ring = make(tmp_path)
    dek = new_data_key()
    wrapped = ring.wrap(dek, record_id="rec-1")
    ring.rotate()
    ring.retire(1)
    kek = json.loads(ring.path.read_text())["versions"][0]["key"]
    with structlog.testing.capture_logs() as logs:
        for bad in (WrappedKey(1, wrapped.blob), WrappedKey(9, wrapped.blob), WrappedKey(2, wrapped.blob)):
            with pytest.raises(DecryptionError):
                ring.unwrap(bad, record_id="rec-1")
    assert [entry["cause"] for entry in logs] == ["retired_version", "unknown_version", "authentication"]
    rendered = repr(logs)
    assert kek not in rendered and dek.hex() not in rendered and wrapped.blob.hex() not in rendered
