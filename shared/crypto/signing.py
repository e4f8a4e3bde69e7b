"""Ed25519 signatures for receipts and audit checkpoints (intent-named wrappers over primitives)."""

from __future__ import annotations

from shared.crypto.primitives import ED25519_SEED_SIZE, ed25519_public_key, ed25519_sign, ed25519_verify

SEED_SIZE = ED25519_SEED_SIZE


def new_seed(random: bytes) -> bytes:
    """An Ed25519 private key is any 32 random bytes; the caller supplies them (deterministic tests)."""
    if len(random) != SEED_SIZE:
        raise ValueError("Ed25519 seeds are 32 bytes")
    return bytes(random)


def public_key(seed: bytes) -> bytes:
    """The raw 32-byte public key for `seed`."""
    return ed25519_public_key(seed)


def sign(seed: bytes, data: bytes) -> bytes:
    """Sign `data` with the private key `seed` (64-byte signature)."""
    return ed25519_sign(seed, data)


def verify(public: bytes, data: bytes, signature: bytes) -> bool:
    """True only for a valid signature by `public` over `data`."""
    return ed25519_verify(public, data, signature)
