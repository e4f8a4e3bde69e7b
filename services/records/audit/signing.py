"""Ed25519 for checkpoint signatures: a stop-gap until shared/crypto/primitives.py offers
`sign(private_key_bytes, data)` / `verify(public_key_bytes, data, signature)`; then this module
becomes two re-exports."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: TID251 - no Ed25519 in shared/crypto yet
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

SEED_SIZE = 32


def new_seed(random: bytes) -> bytes:
    """An Ed25519 private key is any 32 random bytes (the caller supplies them: deterministic tests)."""
    if len(random) != SEED_SIZE:
        raise ValueError("Ed25519 seeds are 32 bytes")
    return bytes(random)


def public_key(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def sign(seed: bytes, data: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(data)


def verify(public: bytes, data: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
