"""Envelope encryption: per-object data keys (DEKs) wrapped by versioned key-encryption keys (KEKs)."""

from __future__ import annotations

import os
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from shared.crypto.errors import DecryptionError
from shared.crypto.format import RandomSource
from shared.crypto.primitives import KEY_SIZE, NONCE_SIZE, TAG_SIZE, Aes256Gcm
from shared.logging import get_logger

WRAP_FORMAT_VERSION = 1
WRAPPED_BLOB_SIZE = 1 + NONCE_SIZE + KEY_SIZE + TAG_SIZE  # 61 bytes
_WRAP_LABEL = b"tandem/dek-wrap/v1\x00"
MAX_RECORD_ID = 1024

_log = get_logger("shared.crypto")


def new_data_key() -> bytes:
    """A fresh 256-bit data key from the OS CSPRNG (one per object, never reused)."""
    return secrets.token_bytes(KEY_SIZE)


@dataclass(frozen=True)
class WrappedKey:
    """A DEK wrapped under KEK `kek_version`; store both next to the object's metadata."""

    kek_version: int
    blob: bytes


@dataclass(frozen=True)
class KekVersion:
    """One key-encryption key version as listed by a provider (never carries key material)."""

    version: int
    created_at: datetime
    state: str  # "primary" | "active" | "retired"


@runtime_checkable
class KeyEncryptionKeyProvider(Protocol):
    """Where KEKs live: a local keyring file now, a KMS (Vault transit, AWS KMS) later.

    DEKs cross this interface, KEKs never do, so a KMS-backed implementation fits unchanged.
    """

    def primary_version(self) -> int:
        """The version new wraps use."""
        ...

    def versions(self) -> list[KekVersion]:
        """Every known version, oldest first."""
        ...

    def wrap(self, dek: bytes, *, record_id: str) -> WrappedKey:
        """Wrap `dek` under the primary version, bound to `record_id`."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, record_id: str) -> bytes:
        """Recover the DEK; DecryptionError on any failure (retired versions included)."""
        ...

    def rotate(self) -> int:
        """Add a version and make it primary; returns it."""
        ...

    def retire(self, version: int) -> None:
        """Stop unwrapping under `version` (never the primary; the caller proves nothing references it)."""
        ...


def wrap_aad(kek_version: int, record_id: str) -> bytes:
    """Associated data of a DEK wrap: label ‖ u32 KEK version ‖ u16 length ‖ record id (UTF-8)."""
    rid = _record_id_bytes(record_id)
    if not 0 < kek_version < 1 << 32:
        raise ValueError("KEK version must fit in 32 bits and be positive")
    return _WRAP_LABEL + struct.pack(">IH", kek_version, len(rid)) + rid


def wrap_data_key(
    kek: bytes, kek_version: int, dek: bytes, *, record_id: str, rng: RandomSource = os.urandom
) -> WrappedKey:
    """AES-256-GCM wrap of `dek` under `kek`: blob = 0x01 ‖ nonce (12) ‖ ciphertext+tag (48)."""
    if len(dek) != KEY_SIZE:
        raise ValueError("a data key is 32 bytes")
    nonce = rng(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise ValueError("rng returned the wrong number of bytes")
    sealed = Aes256Gcm(kek).encrypt(nonce, bytes(dek), wrap_aad(kek_version, record_id))
    return WrappedKey(kek_version, bytes([WRAP_FORMAT_VERSION]) + nonce + sealed)


def unwrap_data_key(kek: bytes, wrapped: WrappedKey, *, record_id: str) -> bytes:
    """Inverse of wrap_data_key; DecryptionError on any mismatch."""
    blob = wrapped.blob
    if len(blob) != WRAPPED_BLOB_SIZE or blob[0] != WRAP_FORMAT_VERSION:
        _log.debug("crypto.unwrap_failed", cause="malformed_blob", kek_version=wrapped.kek_version)
        raise DecryptionError
    try:
        aad = wrap_aad(wrapped.kek_version, record_id)
    except ValueError:
        _log.debug("crypto.unwrap_failed", cause="bad_binding", kek_version=wrapped.kek_version)
        raise DecryptionError from None
    try:
        return Aes256Gcm(kek).decrypt(blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :], aad)
    except DecryptionError:
        _log.debug("crypto.unwrap_failed", cause="authentication", kek_version=wrapped.kek_version)
        raise


def rewrap(provider: KeyEncryptionKeyProvider, wrapped: WrappedKey, *, record_id: str) -> WrappedKey:
    """Re-wrap a DEK under the provider's primary KEK; the object's data is never read.

    A provider with its own `rewrap(wrapped, *, record_id)` (a KMS: Vault transit/rewrap, AWS
    ReEncrypt) is used as is, so the DEK never enters this process.
    """
    native: Callable[..., WrappedKey] | None = getattr(provider, "rewrap", None)
    if callable(native):
        return native(wrapped, record_id=record_id)
    dek = provider.unwrap(wrapped, record_id=record_id)
    return provider.wrap(dek, record_id=record_id)


def _record_id_bytes(record_id: str) -> bytes:
    if not isinstance(record_id, str) or not record_id:
        raise ValueError("record_id must be a non-empty string")
    rid = record_id.encode("utf-8")
    if len(rid) > MAX_RECORD_ID:
        raise ValueError(f"record_id is longer than {MAX_RECORD_ID} bytes")
    return rid
