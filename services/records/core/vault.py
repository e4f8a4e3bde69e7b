"""Sealing and opening record objects: per-object data keys wrapped by the KEK provider, streaming
AEAD from shared.crypto, ciphertext in S3 under a random key. The only place records code touches keys."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from shared.crypto import (
    KeyEncryptionKeyProvider,
    StreamContext,
    WrappedKey,
    ciphertext_size,
    iter_unseal,
    new_data_key,
    open_range,
    seal,
)
from shared.objectstore import ObjectStore


def new_object_key() -> str:
    """A random object key: no names, e-mails, dates or record ids in it."""
    return f"o/{secrets.token_hex(16)}"


def crypto_id(record_id: str, version: int) -> str:
    """The id bound into the AAD of the wrap and of every segment: record and version."""
    return f"{record_id}:{version}"


@dataclass(frozen=True)
class SealedObject:
    """What the database keeps about one sealed object."""

    object_key: str
    crypto_id: str
    plaintext_size: int
    ciphertext_size: int
    segment_size: int
    content_hash: str  # SHA-256 of the ciphertext as stored
    kek_version: int
    wrapped_dek: bytes


@dataclass(frozen=True)
class ObjectRef:
    """Enough to open a stored object."""

    object_key: str
    crypto_id: str
    kind: str
    plaintext_size: int
    ciphertext_size: int
    segment_size: int
    kek_version: int
    wrapped_dek: bytes


class Vault:
    def __init__(self, provider: KeyEncryptionKeyProvider, store: ObjectStore, *, segment_size: int) -> None:
        self.provider = provider
        self.store = store
        self.segment_size = segment_size

    def wrap_new_key(self, cid: str) -> tuple[bytes, WrappedKey]:
        dek = new_data_key()
        return dek, self.provider.wrap(dek, record_id=cid)

    def unwrap(self, ref: ObjectRef) -> bytes:
        return self.provider.unwrap(WrappedKey(ref.kek_version, ref.wrapped_dek), record_id=ref.crypto_id)

    async def seal_bytes(self, record_id: str, version: int, kind: str, plaintext: bytes) -> SealedObject:
        """Seal small content (a note version) and store it; the caller records the metadata."""
        cid = crypto_id(record_id, version)
        dek, wrapped = self.wrap_new_key(cid)
        ct = seal(dek, StreamContext(record_id=cid, kind=kind), plaintext, segment_size=self.segment_size)
        key = new_object_key()
        await asyncio.to_thread(self.store.put, key, ct)
        return SealedObject(key, cid, len(plaintext), len(ct), self.segment_size,
                            hashlib.sha256(ct).hexdigest(), wrapped.kek_version, wrapped.blob)

    async def open_bytes(self, ref: ObjectRef) -> bytes:
        def _open() -> bytes:
            dek = self.unwrap(ref)
            return b"".join(iter_unseal(dek, StreamContext(record_id=ref.crypto_id, kind=ref.kind),
                                        self.store.iter_chunks(ref.object_key)))
        return await asyncio.to_thread(_open)

    def read_range(self, ref: ObjectRef, dek: bytes, offset: int, length: int) -> bytes:
        """Plaintext [offset, offset+length): reads only the segments covering it (sync: run in a thread)."""
        return open_range(dek, StreamContext(record_id=ref.crypto_id, kind=ref.kind),
                          lambda off, n: self.store.get_range(ref.object_key, off, n),
                          ref.ciphertext_size, offset, length)

    async def stream_range(self, ref: ObjectRef, start: int, end: int, window: int) -> AsyncIterator[bytes]:
        """Plaintext bytes start..end (inclusive) in windows aligned to segments: constant memory."""
        dek = await asyncio.to_thread(self.unwrap, ref)
        window = max(ref.segment_size, window - window % ref.segment_size)
        pos = start
        while pos <= end:
            # Align the window's end to a segment boundary so no segment is fetched twice.
            stop = min(end + 1, (pos // ref.segment_size) * ref.segment_size + window)
            yield await asyncio.to_thread(self.read_range, ref, dek, pos, stop - pos)
            pos = stop

    def delete_object(self, object_key: str) -> None:
        self.store.delete(object_key)


def expected_ciphertext_size(plaintext_size: int, segment_size: int) -> int:
    return ciphertext_size(plaintext_size, segment_size)


