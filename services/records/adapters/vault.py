"""Sealing and opening record objects: per-object data keys wrapped by the KEK provider, streaming
AEAD from shared.crypto, ciphertext in S3 under a random key. The only place records code touches keys:
callers hand in plaintext (whole, or as it streams in through a `SealingSink`) and get back what the
database keeps about the sealed object (`SealedObject`), never a data key."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from shared.crypto import (
    KeyEncryptionKeyProvider,
    StreamContext,
    StreamSealer,
    WrappedKey,
    iter_unseal,
    new_data_key,
    open_range,
    seal,
)
from shared.crypto.primitives import Buffer
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


class Frames(Protocol):
    """Where a sealing sink writes the sealed object, in order, in constant memory (an upload)."""

    def reserve(self, n: int) -> memoryview | None: ...
    async def write(self, data: Buffer) -> None: ...
    async def finish(self) -> str: ...  # the SHA-256 (hex) of exactly the bytes stored
    async def abort(self) -> bool: ...


@dataclass(eq=False)
class SealingSink:
    """Plaintext in, sealed frames out to `frames`, as it arrives: the data key stays inside (only its
    wrapped form leaves, with `finish()`). Memory stays flat: a segment is sealed straight into the
    space `frames.reserve()` hands out where it can be."""

    _sealer: StreamSealer
    _wrapped: WrappedKey
    _cid: str
    object_key: str
    _segment_size: int
    _frames: Frames
    _header: bytes | None = field(init=False, default=None)  # written ahead of the first frame

    def __post_init__(self) -> None:
        self._header = self._sealer.header

    @property
    def plaintext_size(self) -> int:
        """Plaintext bytes accepted so far."""
        return self._sealer.plaintext_size

    async def write(self, chunk: Buffer) -> None:
        await self._start()
        for sealed in self._sealer.update_into(chunk, self._frames.reserve):
            await self._frames.write(sealed)

    async def finish(self) -> SealedObject:
        """Seal the last segment and complete the object: what the database keeps about it."""
        await self._start()
        await self._frames.write(self._sealer.finalize())
        content_hash = await self._frames.finish()
        return SealedObject(self.object_key, self._cid, self._sealer.plaintext_size, self._sealer.ciphertext_size,
                            self._segment_size, content_hash, self._wrapped.kek_version, self._wrapped.blob)

    async def abort(self) -> bool:
        """Remove whatever was stored (see the frames' `abort`); True when nothing is left."""
        return await self._frames.abort()

    async def _start(self) -> None:
        if self._header is not None:
            header, self._header = self._header, None
            await self._frames.write(header)


class Vault:
    def __init__(self, provider: KeyEncryptionKeyProvider, store: ObjectStore, *, segment_size: int) -> None:
        self.provider = provider
        self.store = store
        self.segment_size = segment_size

    def _new_key(self, cid: str) -> tuple[bytes, WrappedKey]:
        dek = new_data_key()
        return dek, self.provider.wrap(dek, record_id=cid)

    def _unwrap(self, ref: ObjectRef) -> bytes:
        return self.provider.unwrap(WrappedKey(ref.kek_version, ref.wrapped_dek), record_id=ref.crypto_id)

    async def seal_bytes(self, record_id: str, version: int, kind: str, plaintext: bytes) -> SealedObject:
        """Seal small content (a note version) and store it; the caller records the metadata."""
        cid = crypto_id(record_id, version)
        dek, wrapped = self._new_key(cid)
        ct = seal(dek, StreamContext(record_id=cid, kind=kind), plaintext, segment_size=self.segment_size)
        key = new_object_key()
        await asyncio.to_thread(self.store.put, key, ct)
        return SealedObject(key, cid, len(plaintext), len(ct), self.segment_size,
                            hashlib.sha256(ct).hexdigest(), wrapped.kek_version, wrapped.blob)

    def sealing_sink(self, record_id: str, version: int, kind: str, frames: Callable[[str], Frames]) -> SealingSink:
        """A sink sealing one object as it streams in, under a new data key, into `frames(object_key)`
        (a fresh random object key)."""
        cid = crypto_id(record_id, version)
        dek, wrapped = self._new_key(cid)
        sealer = StreamSealer(dek, StreamContext(record_id=cid, kind=kind), segment_size=self.segment_size)
        del dek
        key = new_object_key()
        return SealingSink(sealer, wrapped, cid, key, self.segment_size, frames(key))

    async def discard(self, sealed: SealedObject) -> None:
        """Remove an object sealed for a record that was not written after all."""
        await asyncio.to_thread(self.store.delete, sealed.object_key)

    async def open_bytes(self, ref: ObjectRef) -> bytes:
        def _open() -> bytes:
            dek = self._unwrap(ref)
            return b"".join(iter_unseal(dek, StreamContext(record_id=ref.crypto_id, kind=ref.kind),
                                        self.store.iter_chunks(ref.object_key)))
        return await asyncio.to_thread(_open)

    def _read_range(self, ref: ObjectRef, dek: bytes, offset: int, length: int) -> bytes:
        """Plaintext [offset, offset+length): reads only the segments covering it (sync: run in a thread)."""
        return open_range(dek, StreamContext(record_id=ref.crypto_id, kind=ref.kind),
                          lambda off, n: self.store.get_range(ref.object_key, off, n),
                          ref.ciphertext_size, offset, length)

    async def stream_range(self, ref: ObjectRef, start: int, end: int, window: int) -> AsyncIterator[bytes]:
        """Plaintext bytes start..end (inclusive) in windows aligned to segments: constant memory."""
        dek = await asyncio.to_thread(self._unwrap, ref)
        window = max(ref.segment_size, window - window % ref.segment_size)
        pos = start
        while pos <= end:
            # Align the window's end to a segment boundary so no segment is fetched twice.
            stop = min(end + 1, (pos // ref.segment_size) * ref.segment_size + window)
            yield await asyncio.to_thread(self._read_range, ref, dek, pos, stop - pos)
            pos = stop

    def delete_object(self, object_key: str) -> None:
        self.store.delete(object_key)

