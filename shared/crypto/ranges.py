"""Opening part of a sealed object (HTTP Range playback): only the header and the segments that
cover the range are read."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from shared.crypto.format import (
    HEADER_SIZE,
    SEGMENT_OVERHEAD,
    SegmentOpener,
    StreamContext,
    fail,
    read_exact,
    segment_count,
    stored_plaintext_size,
)
from shared.crypto.primitives import Buffer


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
    plan = RangePlan(dek, ctx, read, ciphertext_size, offset, length)
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
    plan = RangePlan(dek, ctx, read, ciphertext_size, offset, length)
    per_read = max(1, read_size // (plan.segment_size + SEGMENT_OVERHEAD))

    def generate() -> Iterator[bytes]:
        for first in range(plan.first, plan.last + 1, per_read):
            yield from plan.pieces(first, min(first + per_read - 1, plan.last))

    return generate()


class RangePlan:
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
        if ciphertext_size < HEADER_SIZE:
            fail("object_truncated")
        self.opener = SegmentOpener(dek, ctx, read_exact(read, 0, HEADER_SIZE))
        self.segment_size = seg = self.opener.segment_size
        total = stored_plaintext_size(ciphertext_size, seg)
        self.read = read
        self.ciphertext_size = ciphertext_size
        self.offset = offset
        self.end = min(offset + length, total)
        self.final_index = segment_count(total, seg) - 1
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
        start = HEADER_SIZE + first * step
        stop = min(HEADER_SIZE + (last + 1) * step, self.ciphertext_size)
        data = memoryview(read_exact(self.read, start, stop - start)).cast("B")
        out = []
        for index in range(first, last + 1):
            pos = (index - first) * step
            plain = self.opener.open(index, data[pos : pos + step], index == self.final_index)
            lo = max(self.offset - index * seg, 0)
            hi = min(self.end - index * seg, len(plain))
            if hi > lo:  # a final segment opened only to prove the end contributes nothing
                out.append(plain if (lo, hi) == (0, len(plain)) else plain[lo:hi])
        return out
