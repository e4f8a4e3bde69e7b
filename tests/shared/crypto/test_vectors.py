"""Known-answer vectors (tests/vectors/): recomputed exactly, opened, and re-derived from the spec by hand."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from shared.crypto import (
    DecryptionError,
    StreamContext,
    WrappedKey,
    header_size,
    seal,
    unseal,
    unwrap_data_key,
    wrap_data_key,
)
from shared.crypto.primitives import Aes256Gcm, hkdf_sha256
from tests.support import vectors
from tests.support.rng import fixed_rng

STREAM: dict[str, Any] = vectors.load("streaming_aead")
WRAP: dict[str, Any] = vectors.load("key_wrap")


def by_name(doc: dict[str, Any]) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in doc["cases"]]


@pytest.mark.parametrize("case", by_name(STREAM))
def test_streaming_vector_recomputes_exactly(case: dict[str, Any]) -> None:
    ctx = StreamContext(case["record_id"], case["kind"])
    dek, pt = bytes.fromhex(case["dek"]), bytes.fromhex(case["plaintext"])
    ct = seal(dek, ctx, pt, segment_size=case["segment_size"], rng=fixed_rng(bytes.fromhex(case["rng"])))
    assert ct.hex() == case["ciphertext"]
    assert ct[: header_size()].hex() == case["header"]
    assert unseal(dek, ctx, bytes.fromhex(case["ciphertext"])) == pt
    with pytest.raises(DecryptionError):
        unseal(dek, StreamContext(case["record_id"] + "x", case["kind"]), ct)


@pytest.mark.parametrize("case", by_name(STREAM))
def test_streaming_vector_matches_the_written_spec(case: dict[str, Any]) -> None:
    """An independent decoder written from docs/encryption.md, using only the two primitives."""
    ct = bytes.fromhex(case["ciphertext"])
    dek = bytes.fromhex(case["dek"])
    rid, kind = case["record_id"].encode(), case["kind"].encode()
    version, seg = struct.unpack(">BI", ct[:5])
    salt, prefix, commitment = ct[5:37], ct[37:44], ct[44:76]
    assert (version, seg) == (1, case["segment_size"])
    assert salt + prefix == bytes.fromhex(case["rng"])
    context = struct.pack(">H", len(rid)) + rid + struct.pack(">H", len(kind)) + kind
    key = hkdf_sha256(dek, salt=salt, info=b"tandem/stream-aead/v1/segment-key\x00" + context, length=32)
    expected = hkdf_sha256(dek, salt=salt, info=b"tandem/stream-aead/v1/commitment\x00" + context, length=32)
    assert commitment == expected == bytes.fromhex(case["commitment"])
    aad = ct[:76] + context
    body = ct[76:]
    segments = [body[i : i + seg + 16] for i in range(0, len(body), seg + 16)]
    plain = b""
    for index, sealed in enumerate(segments):
        last = index == len(segments) - 1
        plain += Aes256Gcm(key).decrypt(prefix + struct.pack(">IB", index, last), sealed, aad)
    assert plain.hex() == case["plaintext"]


@pytest.mark.parametrize("case", by_name(WRAP))
def test_key_wrap_vector(case: dict[str, Any]) -> None:
    kek, dek = bytes.fromhex(case["kek"]), bytes.fromhex(case["dek"])
    wrapped = wrap_data_key(
        kek, case["kek_version"], dek, record_id=case["record_id"], rng=fixed_rng(bytes.fromhex(case["rng"]))
    )
    assert wrapped == WrappedKey(case["kek_version"], bytes.fromhex(case["blob"]))
    assert unwrap_data_key(kek, wrapped, record_id=case["record_id"]) == dek
    # And by hand from the spec: blob = 0x01 ‖ nonce ‖ AES-256-GCM(kek, nonce, dek, aad).
    rid = case["record_id"].encode()
    aad = b"tandem/dek-wrap/v1\x00" + struct.pack(">IH", case["kek_version"], len(rid)) + rid
    assert aad.hex() == case["aad"]
    blob = bytes.fromhex(case["blob"])
    assert blob[0] == 1 and len(blob) == WRAP["blob_size"] == 61
    assert Aes256Gcm(kek).decrypt(blob[1:13], blob[13:], aad) == dek
    with pytest.raises(DecryptionError):
        unwrap_data_key(kek, wrapped, record_id=case["record_id"] + "x")
    with pytest.raises(DecryptionError):
        unwrap_data_key(kek, WrappedKey(case["kek_version"] + 1, wrapped.blob), record_id=case["record_id"])


def test_the_spec_quotes_the_vectors() -> None:
    spec = (Path(__file__).resolve().parents[3] / "docs" / "encryption.md").read_text()
    for case in STREAM["cases"]:
        assert case["ciphertext"] in spec, case["name"]
    for case in WRAP["cases"]:
        assert case["blob"] in spec and case["aad"] in spec, case["name"]
