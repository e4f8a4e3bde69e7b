"""Ed25519 through shared.crypto.signing: RFC 8032 vector, tamper rejection."""

from __future__ import annotations

import pytest

from shared.crypto import signing
from tests.support import vectors

# RFC 8032, section 7.1, TEST 1 (empty message): tests/vectors/ed25519.json.
RFC8032 = vectors.load("ed25519")["cases"][0]
SEED = bytes.fromhex(RFC8032["seed"])
PUBLIC = bytes.fromhex(RFC8032["public_key"])
SIGNATURE = bytes.fromhex(RFC8032["signature"])
MESSAGE = bytes.fromhex(RFC8032["message"])


def test_rfc8032_vector() -> None:
    assert signing.public_key(SEED) == PUBLIC
    assert MESSAGE == b""
    assert signing.sign(SEED, MESSAGE) == SIGNATURE
    assert signing.verify(PUBLIC, MESSAGE, SIGNATURE)


def test_rejects_tampering_and_garbage() -> None:
    sig = signing.sign(SEED, b"checkpoint 7")
    assert signing.verify(PUBLIC, b"checkpoint 7", sig)
    assert not signing.verify(PUBLIC, b"checkpoint 8", sig)
    assert not signing.verify(PUBLIC, b"checkpoint 7", sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not signing.verify(b"short", b"checkpoint 7", sig)
    assert not signing.verify(PUBLIC, b"checkpoint 7", b"short")
    with pytest.raises(ValueError):
        signing.new_seed(b"\x00" * 31)
    assert signing.new_seed(SEED) == SEED
