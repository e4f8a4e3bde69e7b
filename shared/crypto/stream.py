"""Streaming AEAD for notes and recordings (format v1; docs/encryption.md is the spec).

Modelled on Tink's AES-GCM-HKDF streaming AEAD and the AWS Encryption SDK v2 key commitment:

    object  = header ‖ segment_0 ‖ … ‖ segment_{n-1}
    header  = version (1) ‖ segment_size (4, BE) ‖ salt (32) ‖ nonce_prefix (7) ‖ commitment (32)
    segment = AES-256-GCM(segment_key, prefix ‖ index (4, BE) ‖ last (1), plaintext_i, header ‖ context)

Every segment holds `segment_size` plaintext bytes except the last, which holds 1..segment_size
bytes (0 only when the whole plaintext is empty). Ciphertext segments are plaintext + 16 bytes.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NoReturn

from shared.crypto.errors import DecryptionError
from shared.crypto.primitives import KEY_SIZE, TAG_SIZE, Aes256Gcm, Buffer, hkdf_sha256
from shared.logging import get_logger

FORMAT_VERSION = 1
DEFAULT_SEGMENT_SIZE = 65536
MIN_SEGMENT_SIZE = 16
MAX_SEGMENT_SIZE = 1 << 24  # 16 MiB: bounds the memory one segment can take when opening
SALT_SIZE = 32
NONCE_PREFIX_SIZE = 7
COMMITMENT_SIZE = 32
SEGMENT_OVERHEAD = TAG_SIZE
MAX_SEGMENTS = 1 << 32  # the segment index is a 32-bit counter in the nonce
MAX_CONTEXT_FIELD = 1024

_HEADER_FIXED = struct.Struct(">BI")
_HEADER_SIZE = _HEADER_FIXED.size + SALT_SIZE + NONCE_PREFIX_SIZE + COMMITMENT_SIZE
_NONCE_SUFFIX = struct.Struct(">IB")
_KEY_INFO = b"tandem/stream-aead/v1/segment-key\x00"
_COMMIT_INFO = b"tandem/stream-aead/v1/commitment\x00"

_log = get_logger("shared.crypto")

RandomSource = Callable[[int], bytes]


@dataclass(frozen=True)
class StreamContext:
    """What an object is: bound into key derivation, the commitment and every segment's AAD."""

    record_id: str
    kind: str

    def __post_init__(self) -> None:
        for name in ("record_id", "kind"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"StreamContext.{name} must be a non-empty string")
            if len(value.encode("utf-8")) > MAX_CONTEXT_FIELD:
                raise ValueError(f"StreamContext.{name} is longer than {MAX_CONTEXT_FIELD} bytes")

    def encode(self) -> bytes:
        """Unambiguous encoding: u16 length ‖ record_id (UTF-8) ‖ u16 length ‖ kind (UTF-8)."""
        rid = self.record_id.encode("utf-8")
        kind = self.kind.encode("utf-8")
        return struct.pack(">H", len(rid)) + rid + struct.pack(">H", len(kind)) + kind


@dataclass(frozen=True)
class Header:
    """The parsed object header."""

    version: int
    segment_size: int
    salt: bytes
    nonce_prefix: bytes
    commitment: bytes

    def to_bytes(self) -> bytes:
        return _HEADER_FIXED.pack(self.version, self.segment_size) + self.salt + self.nonce_prefix + self.commitment


def header_size() -> int:
    """Bytes of the v1 header that starts every sealed object (76)."""
    return _HEADER_SIZE


def parse_header(data: Buffer) -> Header:
    """Parse the header at the start of `data`; DecryptionError when it is not a v1 header."""
    if len(data) < _HEADER_SIZE:
        _fail("header_truncated")
    raw = bytes(data[:_HEADER_SIZE])
    version, segment_size = _HEADER_FIXED.unpack_from(raw)
    if version != FORMAT_VERSION:
        _fail("unsupported_version")
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        _fail("segment_size_out_of_bounds")
    pos = _HEADER_FIXED.size
    salt = raw[pos : pos + SALT_SIZE]
    pos += SALT_SIZE
    prefix = raw[pos : pos + NONCE_PREFIX_SIZE]
    pos += NONCE_PREFIX_SIZE
    return Header(version, segment_size, salt, prefix, raw[pos : pos + COMMITMENT_SIZE])


def ciphertext_size(plaintext_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """Size of the sealed object for a plaintext of `plaintext_size` bytes."""
    _check_segment_size(segment_size)
    if not isinstance(plaintext_size, int) or plaintext_size < 0:
        raise ValueError("plaintext size must be a non-negative integer")
    segments = _segment_count(plaintext_size, segment_size)
    return _HEADER_SIZE + plaintext_size + segments * SEGMENT_OVERHEAD


def plaintext_size(ciphertext_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """Plaintext bytes inside a sealed object of `ciphertext_size` bytes; ValueError if no object has that size."""
    _check_segment_size(segment_size)
    if not isinstance(ciphertext_size, int) or ciphertext_size < _HEADER_SIZE + SEGMENT_OVERHEAD:
        raise ValueError("ciphertext too short to be a sealed object")
    body = ciphertext_size - _HEADER_SIZE
    full, rest = divmod(body, segment_size + SEGMENT_OVERHEAD)
    if rest == 0:
        size = full * segment_size
    elif rest < SEGMENT_OVERHEAD or (rest == SEGMENT_OVERHEAD and full > 0):
        # A final segment shorter than a tag, or an empty final segment after full ones, is never produced.
        raise ValueError("impossible ciphertext size for this segment size")
    else:
        size = full * segment_size + rest - SEGMENT_OVERHEAD
    if _segment_count(size, segment_size) > MAX_SEGMENTS:
        raise ValueError("too many segments")
    return size


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
        _check_segment_size(segment_size)
        _check_dek(dek)
        salt = rng(SALT_SIZE)
        prefix = rng(NONCE_PREFIX_SIZE)
        if len(salt) != SALT_SIZE or len(prefix) != NONCE_PREFIX_SIZE:
            raise ValueError("rng returned the wrong number of bytes")
        aead, commitment = _derive(dek, salt, ctx)
        self._header = Header(FORMAT_VERSION, segment_size, salt, prefix, commitment).to_bytes()
        self._aead = aead
        self._prefix = prefix
        self._aad = self._header + ctx.encode()
        self._segments = _Segmenter(segment_size)
        self._index = 0
        self._plaintext_size = 0
        self._ciphertext_size = _HEADER_SIZE
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
            self._aead.encrypt_into(self._prefix + _NONCE_SUFFIX.pack(self._index, False), unit, self._aad, out)
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
        nonce = self._prefix + _NONCE_SUFFIX.pack(self._index, last)
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
    opener = _Opener(dek, ctx, view)
    seg = opener.segment_size
    total = _stored_plaintext_size(len(view), seg)
    count = _segment_count(total, seg)
    step = seg + SEGMENT_OVERHEAD
    # Segment-sized results then one join: a single large allocation (decrypt_into a bytearray would
    # need a second one to hand back immutable bytes).
    parts = [
        opener.open(index, view[pos : pos + step], index == count - 1)
        for index, pos in enumerate(range(_HEADER_SIZE, len(view), step))
    ]
    if len(parts) != count:
        _fail("impossible_size")
    return parts[0] if count == 1 else b"".join(parts)


def iter_unseal(dek: bytes, ctx: StreamContext, chunks: Iterable[Buffer]) -> Iterator[bytes]:
    """Open a sealed object arriving as chunks of any size, yielding plaintext segment by segment.

    Plaintext is only yielded after its segment authenticated, but a truncated stream is detected
    only at the end: consumers must treat what they got as void if the iterator raises.
    """
    header = bytearray()
    opener: _Opener | None = None
    segments: _Segmenter | None = None
    index = 0
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        if opener is None:
            need = _HEADER_SIZE - len(header)
            header += view[:need]
            view = view[need:]
            if len(header) < _HEADER_SIZE:
                continue
            opener = _Opener(dek, ctx, header)
            segments = _Segmenter(opener.segment_size + SEGMENT_OVERHEAD)
        assert segments is not None  # noqa: S101 - set together with opener
        for unit in segments.feed(view):
            if index >= MAX_SEGMENTS - 1:
                _fail("too_many_segments")
            yield opener.open(index, unit, last=False)
            index += 1
    if opener is None or segments is None:
        _fail("header_truncated")
    tail = segments.finish()
    if len(tail) < SEGMENT_OVERHEAD or (len(tail) == SEGMENT_OVERHEAD and index > 0):
        _fail("final_segment_truncated")
    yield opener.open(index, tail, last=True)


def open_range(
    dek: bytes,
    ctx: StreamContext,
    read: Callable[[int, int], Buffer],
    ciphertext_size: int,
    offset: int,
    length: int,
) -> bytes:
    """Decrypt plaintext bytes [offset, offset + length) of a stored object, clamped to its end.

    `read(start, length)` returns that many ciphertext bytes of the stored object. Only the header and
    the segments covering the range are read (two calls), so HTTP Range playback stays cheap.
    """
    plan = _RangePlan(dek, ctx, read, ciphertext_size, offset, length)
    return b"".join(plan.pieces(plan.first, plan.last))


def iter_range(
    dek: bytes,
    ctx: StreamContext,
    read: Callable[[int, int], Buffer],
    ciphertext_size: int,
    offset: int,
    length: int,
    *,
    read_size: int = 1 << 20,
) -> Iterator[bytes]:
    """Like open_range, but yields the plaintext in pieces, reading about `read_size` ciphertext bytes at a
    time: constant memory for any range (e.g. `Range: bytes=0-` on a long recording).

    Arguments are validated and the header is read and checked (wrong key, record id, kind) *before*
    this returns, so a caller can still answer with an error instead of a 206. A damaged segment
    raises DecryptionError from the iterator, after the pieces before it were yielded.
    """
    if not isinstance(read_size, int) or read_size < 1:
        raise ValueError("read_size must be a positive integer")
    plan = _RangePlan(dek, ctx, read, ciphertext_size, offset, length)
    per_read = max(1, read_size // (plan.segment_size + SEGMENT_OVERHEAD))

    def generate() -> Iterator[bytes]:
        for first in range(plan.first, plan.last + 1, per_read):
            yield from plan.pieces(first, min(first + per_read - 1, plan.last))

    return generate()


class _RangePlan:
    """Validated range request: the checked header and the segments [first, last] that cover it."""

    def __init__(
        self,
        dek: bytes,
        ctx: StreamContext,
        read: Callable[[int, int], Buffer],
        ciphertext_size: int,
        offset: int,
        length: int,
    ) -> None:
        for name, value in (("ciphertext_size", ciphertext_size), ("offset", offset), ("length", length)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if ciphertext_size < _HEADER_SIZE:
            _fail("object_truncated")
        self.opener = _Opener(dek, ctx, _read_exact(read, 0, _HEADER_SIZE))
        self.segment_size = seg = self.opener.segment_size
        total = _stored_plaintext_size(ciphertext_size, seg)
        self.read = read
        self.ciphertext_size = ciphertext_size
        self.offset = offset
        self.end = min(offset + length, total)
        self.final_index = _segment_count(total, seg) - 1
        if offset >= self.end:
            if offset + length >= total:
                # At or past the end: open the final segment anyway, since only its last-segment flag
                # proves the object really ends there (a truncated object must not read as empty).
                self.first = self.last = self.final_index
            else:
                self.first, self.last = 0, -1  # an empty range inside the object: nothing to read
        else:
            self.first, self.last = offset // seg, (self.end - 1) // seg

    def pieces(self, first: int, last: int) -> list[bytes]:
        """Read segments first..last in one call, open them, and trim them to the range."""
        if first > last:
            return []
        seg, step = self.segment_size, self.segment_size + SEGMENT_OVERHEAD
        start = _HEADER_SIZE + first * step
        stop = min(_HEADER_SIZE + (last + 1) * step, self.ciphertext_size)
        data = memoryview(_read_exact(self.read, start, stop - start)).cast("B")
        out = []
        for index in range(first, last + 1):
            pos = (index - first) * step
            plain = self.opener.open(index, data[pos : pos + step], index == self.final_index)
            lo = max(self.offset - index * seg, 0)
            hi = min(self.end - index * seg, len(plain))
            if hi > lo:  # a final segment opened only to prove the end contributes nothing
                out.append(plain if (lo, hi) == (0, len(plain)) else plain[lo:hi])
        return out


# --- internals -------------------------------------------------------------------------------


class _Opener:
    """Checks a header against the DEK and context (commitment) and opens its segments."""

    __slots__ = ("_aad", "_aead", "_prefix", "segment_size")

    def __init__(self, dek: bytes, ctx: StreamContext, data: Buffer) -> None:
        _check_dek(dek)
        header = parse_header(data)
        aead, commitment = _derive(dek, header.salt, ctx)
        # The commitment makes a ciphertext open under one DEK only (no "invisible salamander" objects)
        # and rejects a wrong DEK, record id or kind before any segment is touched.
        if not hmac.compare_digest(commitment, header.commitment):
            _fail("commitment_mismatch")
        self._aead = aead
        self._prefix = header.nonce_prefix
        self._aad = header.to_bytes() + ctx.encode()
        self.segment_size = header.segment_size

    def open(self, index: int, data: Buffer, last: bool) -> bytes:
        try:
            return self._aead.decrypt(self._prefix + _NONCE_SUFFIX.pack(index, last), data, self._aad)
        except DecryptionError:
            _fail("segment_authentication", segment=index)


class _Segmenter:
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


def _derive(dek: bytes, salt: bytes, ctx: StreamContext) -> tuple[Aes256Gcm, bytes]:
    info = ctx.encode()
    key = hkdf_sha256(dek, salt=salt, info=_KEY_INFO + info, length=KEY_SIZE)
    commitment = hkdf_sha256(dek, salt=salt, info=_COMMIT_INFO + info, length=COMMITMENT_SIZE)
    return Aes256Gcm(key), commitment


def _segment_count(size: int, segment_size: int) -> int:
    return max(1, -(-size // segment_size))


def _stored_plaintext_size(size: int, segment_size: int) -> int:
    try:
        return plaintext_size(size, segment_size)
    except ValueError:
        _fail("impossible_size")


def _read_exact(read: Callable[[int, int], Buffer], start: int, length: int) -> Buffer:
    data = read(start, length)
    if len(data) != length:
        _fail("short_read")
    return data


def _check_segment_size(segment_size: int) -> None:
    if not isinstance(segment_size, int) or not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment size must be between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE} bytes")


def _check_dek(dek: bytes) -> None:
    if not isinstance(dek, bytes | bytearray) or len(dek) != KEY_SIZE:
        raise ValueError("a data key is 32 bytes")


def _fail(cause: str, **fields: int) -> NoReturn:
    _log.debug("crypto.open_failed", cause=cause, **fields)
    raise DecryptionError
