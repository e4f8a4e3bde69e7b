"""Ed25519 through shared.crypto.signing: RFC 8032 vector, tamper rejection."""

from __future__ import annotations

import pytest

from shared.crypto import signing

# RFC 8032, section 7.1, TEST 1 (empty message).
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_rfc8032_vector() -> None:
    assert signing.public_key(SEED) == PUBLIC
    assert signing.sign(SEED, b"") == SIGNATURE
    assert signing.verify(PUBLIC, b"", SIGNATURE)


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
