"""The only module that touches `cryptography.hazmat`: AES-256-GCM, HKDF-SHA256 and Ed25519.

Everything else in Tandem calls intent-named functions (seal, unseal, wrap, rewrap) built on these.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.crypto.errors import DecryptionError

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16

Buffer = bytes | bytearray | memoryview


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-SHA256 (extract with `salt`, expand with `info`)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


class Aes256Gcm:
    """AES-256-GCM with a 96-bit nonce and 128-bit tag; authentication failures raise DecryptionError."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)

    def encrypt(self, nonce: bytes, data: Buffer, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, data, aad)

    def encrypt_into(self, nonce: bytes, data: Buffer, aad: bytes, out: memoryview) -> None:
        """Encrypt straight into `out` (exactly len(data) + 16 bytes): no output allocation, no copy."""
        self._aead.encrypt_into(nonce, data, aad, out)

    def decrypt(self, nonce: bytes, data: Buffer, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, data, aad)
        except InvalidTag:
            raise DecryptionError from None

    def decrypt_into(self, nonce: bytes, data: Buffer, aad: bytes, out: memoryview) -> None:
        """Decrypt straight into `out` (exactly len(data) - 16 bytes): avoids a copy for large objects."""
        try:
            self._aead.decrypt_into(nonce, data, aad, out)
        except InvalidTag:
            raise DecryptionError from None


ED25519_SEED_SIZE = 32


def ed25519_public_key(seed: bytes) -> bytes:
    """Raw 32-byte public key of the Ed25519 private key `seed` (RFC 8032)."""
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, data: bytes) -> bytes:
    """64-byte Ed25519 signature of `data` (deterministic)."""
    return Ed25519PrivateKey.from_private_bytes(seed).sign(data)


def ed25519_verify(public: bytes, data: bytes, signature: bytes) -> bool:
    """True only for a valid signature; malformed keys or signatures are simply invalid."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
