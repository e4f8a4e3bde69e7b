"""Streaming AEAD for notes and recordings: sealing and opening whole objects (format v1, in
`shared.crypto.format`; docs/encryption.md is the spec).

Modelled on Tink's AES-GCM-HKDF streaming AEAD and the AWS Encryption SDK v2 key commitment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from shared.crypto.format import (
    DEFAULT_SEGMENT_SIZE,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAX_SEGMENTS,
    NONCE_PREFIX_SIZE,
    NONCE_SUFFIX,
    SALT_SIZE,
    SEGMENT_OVERHEAD,
    Header,
    RandomSource,
    SegmentOpener,
    StreamContext,
    check_dek,
    check_segment_size,
    derive,
    fail,
    segment_count,
    stored_plaintext_size,
)
from shared.crypto.primitives import Buffer


class StreamSealer:
    """Incremental encryption in constant memory: emit `header`, then every `update()`, then `finalize()`."""

    def __init__(
        self,
        dek: bytes,
        ctx: StreamContext,
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        rng: RandomSource = os.urandom,
    ) -> None:
        check_segment_size(segment_size)
        check_dek(dek)
        salt = rng(SALT_SIZE)
        prefix = rng(NONCE_PREFIX_SIZE)
        if len(salt) != SALT_SIZE or len(prefix) != NONCE_PREFIX_SIZE:
            raise ValueError("rng returned the wrong number of bytes")
        aead, commitment = derive(dek, salt, ctx)
        self._header = Header(FORMAT_VERSION, segment_size, salt, prefix, commitment).to_bytes()
        self._aead = aead
        self._prefix = prefix
        self._aad = self._header + ctx.encode()
        self._segments = Segmenter(segment_size)
        self._index = 0
        self._plaintext_size = 0
        self._ciphertext_size = HEADER_SIZE
        self._finished = False

    @property
    def header(self) -> bytes:
        """The object header: write it before the output of update()/finalize()."""
        return self._header

    @property
    def plaintext_size(self) -> int:
        """Plaintext bytes accepted so far."""
        return self._plaintext_size

    @property
    def ciphertext_size(self) -> int:
        """Bytes emitted so far, header included."""
        return self._ciphertext_size

    def update(self, data: Buffer) -> bytes:
        """Accept plaintext; return the segments now complete (possibly b""), buffering at most one segment."""
        parts = self._update_parts(data)
        if len(parts) <= 1:
            return parts[0] if parts else b""
        return b"".join(parts)

    def update_into(self, data: Buffer, reserve: Callable[[int], memoryview | None]) -> list[bytes]:
        """Accept plaintext and seal the segments now complete, each straight into the writable buffer
        `reserve(n)` hands out (n = its sealed size) until it hands out None; those that follow are
        returned, in order, for the caller to write after what it reserved. Same output as update()."""
        if self._finished:
            raise RuntimeError("StreamSealer already finalized")
        self._plaintext_size += len(data)
        rest: list[bytes] = []
        for unit in self._segments.feed(data):
            out = None if rest else reserve(len(unit) + SEGMENT_OVERHEAD)
            if out is None:
                rest.append(self._seal(unit, last=False))
                continue
            if self._index >= MAX_SEGMENTS:
                raise ValueError("object too large for this segment size (2^32 segments)")
            self._aead.encrypt_into(self._prefix + NONCE_SUFFIX.pack(self._index, False), unit, self._aad, out)
            self._index += 1
            self._ciphertext_size += len(out)
        return rest

    def _update_parts(self, data: Buffer) -> list[bytes]:
        if self._finished:
            raise RuntimeError("StreamSealer already finalized")
        self._plaintext_size += len(data)
        return [self._seal(unit, last=False) for unit in self._segments.feed(data)]

    def finalize(self) -> bytes:
        """Seal the final segment (empty only when the whole plaintext was empty)."""
        if self._finished:
            raise RuntimeError("StreamSealer already finalized")
        self._finished = True
        return self._seal(self._segments.finish(), last=True)

    def _seal(self, unit: Buffer, *, last: bool) -> bytes:
        if self._index >= MAX_SEGMENTS:
            raise ValueError("object too large for this segment size (2^32 segments)")
        nonce = self._prefix + NONCE_SUFFIX.pack(self._index, last)
        self._index += 1
        sealed = self._aead.encrypt(nonce, unit, self._aad)
        self._ciphertext_size += len(sealed)
        return sealed


def seal(
    dek: bytes,
    ctx: StreamContext,
    plaintext: Buffer,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    rng: RandomSource = os.urandom,
) -> bytes:
    """Seal a whole plaintext held in memory."""
    sealer = StreamSealer(dek, ctx, segment_size=segment_size, rng=rng)
    parts = [sealer.header, *sealer._update_parts(plaintext), sealer.finalize()]
    return b"".join(parts)  # the only copy: segments are joined once


def unseal(dek: bytes, ctx: StreamContext, ciphertext: Buffer) -> bytes:
    """Open a whole sealed object held in memory; DecryptionError on any failure."""
    view = memoryview(ciphertext).cast("B")
    opener = SegmentOpener(dek, ctx, view)
    seg = opener.segment_size
    total = stored_plaintext_size(len(view), seg)
    count = segment_count(total, seg)
    step = seg + SEGMENT_OVERHEAD
    # Segment-sized results then one join: a single large allocation (decrypt_into a bytearray would
    # need a second one to hand back immutable bytes).
    parts = [
        opener.open(index, view[pos : pos + step], index == count - 1)
        for index, pos in enumerate(range(HEADER_SIZE, len(view), step))
    ]
    if len(parts) != count:
        fail("impossible_size")
    return parts[0] if count == 1 else b"".join(parts)


def iter_unseal(dek: bytes, ctx: StreamContext, chunks: Iterable[Buffer]) -> Iterator[bytes]:
    """Open a sealed object arriving as chunks of any size, yielding plaintext segment by segment.

    Plaintext is only yielded after its segment authenticated, but a truncated stream is detected
    only at the end: consumers must treat what they got as void if the iterator raises.
    """
    header = bytearray()
    opener: SegmentOpener | None = None
    segments: Segmenter | None = None
    index = 0
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        if opener is None:
            need = HEADER_SIZE - len(header)
            header += view[:need]
            view = view[need:]
            if len(header) < HEADER_SIZE:
                continue
            opener = SegmentOpener(dek, ctx, header)
            segments = Segmenter(opener.segment_size + SEGMENT_OVERHEAD)
        assert segments is not None  # noqa: S101 - set together with opener
        for unit in segments.feed(view):
            if index >= MAX_SEGMENTS - 1:
                fail("too_many_segments")
            yield opener.open(index, unit, last=False)
            index += 1
    if opener is None or segments is None:
        fail("header_truncated")
    tail = segments.finish()
    if len(tail) < SEGMENT_OVERHEAD or (len(tail) == SEGMENT_OVERHEAD and index > 0):
        fail("final_segment_truncated")
    yield opener.open(index, tail, last=True)


class Segmenter:
    """Cuts a byte stream into units of `unit` bytes, releasing a unit only once more data follows it.

    That way the final unit (which must carry the last-segment flag) is always known at finish(),
    even when the stream length is an exact multiple of the unit. Input held as `bytes` is referenced,
    not copied, so feeding segment-sized chunks costs no memcpy.
    """

    __slots__ = ("_pending", "_unit")

    def __init__(self, unit: int) -> None:
        self._unit = unit
        self._pending: bytearray | memoryview = bytearray()

    def feed(self, data: Buffer) -> list[Buffer]:
        view = memoryview(data).cast("B")
        if not len(view):
            return []
        unit = self._unit
        out: list[Buffer] = []
        pending = self._pending
        if len(pending):
            need = unit - len(pending)
            if need:
                if not isinstance(pending, bytearray):
                    pending = bytearray(pending)
                pending += view[:need]
                view = view[need:]
                self._pending = pending
                if not len(view):
                    return out
            out.append(pending)  # a full unit with more data after it: not the final one
            self._pending = bytearray()
        whole = (len(view) - 1) // unit
        out.extend(view[i * unit : (i + 1) * unit] for i in range(whole))
        rest = view[whole * unit :]
        # Keep a zero-copy reference only to immutable input, and only if that does not pin a large object.
        owner = view.obj
        if isinstance(owner, bytes) and len(owner) <= 4 * unit:
            self._pending = rest
        else:
            self._pending = bytearray(rest)
        return out

    def finish(self) -> Buffer:
        pending, self._pending = self._pending, bytearray()
        return pending
