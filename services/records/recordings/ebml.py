"""The few EBML (RFC 8794) pieces a WebM index needs: reading element ids and sizes, writing elements.

Only what `webm.py` uses; no schema. Sizes are variable-length integers (vints): the length marker
is the position of the first set bit, all-ones is "unknown size" (a live stream's Segment).
"""

from __future__ import annotations

import struct

UNKNOWN = -1  # an element whose size was not known when it was written

EBML = 0x1A45DFA3
SEGMENT = 0x18538067
SEEK_HEAD, SEEK, SEEK_ID, SEEK_POSITION = 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
VOID, CRC32 = 0xEC, 0xBF
INFO, TIMESTAMP_SCALE, DURATION = 0x1549A966, 0x2AD7B1, 0x4489
TRACKS, TRACK_ENTRY, TRACK_NUMBER, TRACK_TYPE = 0x1654AE6B, 0xAE, 0xD7, 0x83
CUES, CUE_POINT, CUE_TIME, CUE_TRACK_POSITIONS = 0x1C53BB6B, 0xBB, 0xB3, 0xB7
CUE_TRACK, CUE_CLUSTER_POSITION, CUE_RELATIVE_POSITION = 0xF7, 0xF1, 0xF0
CLUSTER, TIMESTAMP, SIMPLE_BLOCK, BLOCK_GROUP, BLOCK, REFERENCE_BLOCK = (
    0x1F43B675, 0xE7, 0xA3, 0xA0, 0xA1, 0xFB)
VIDEO_TRACK = 1


class Malformed(Exception):
    """Not EBML this reader understands (the message names what, never content)."""


def read_id(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int] | None:
    """(element id, its length in bytes) at `pos`; None when `buf` ends first."""
    length = _span(buf, pos, 4, "element id")
    return None if length is None else (int.from_bytes(buf[pos:pos + length], "big"), length)


def read_size(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int] | None:
    """(size or UNKNOWN, its length in bytes) at `pos`; None when `buf` ends first."""
    length = _span(buf, pos, 8, "element size")
    if length is None:
        return None
    all_ones = (1 << (7 * length)) - 1  # the value bits, below the length marker
    value = int.from_bytes(buf[pos:pos + length], "big") & all_ones
    return (UNKNOWN if value == all_ones else value), length


def read_header(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int, int] | None:
    """(id, size or UNKNOWN, header length) of the element at `pos`; None when `buf` ends first."""
    found = read_id(buf, pos)
    if found is None:
        return None
    eid, id_len = found
    sized = read_size(buf, pos + id_len)
    if sized is None:
        return None
    return eid, sized[0], id_len + sized[1]


def children(buf: bytes | bytearray | memoryview, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The (id, element start, data start, data end) of each child in a master element's data [start, end)."""
    out = []
    pos = start
    while pos < end:
        header = read_header(buf, pos)
        if header is None or header[1] == UNKNOWN or pos + header[2] + header[1] > end:
            raise Malformed("child element overruns its parent")
        eid, size, head_len = header
        out.append((eid, pos, pos + head_len, pos + head_len + size))
        pos += head_len + size
    return out


def read_uint(data: bytes | bytearray | memoryview) -> int:
    if len(data) > 8:
        raise Malformed("unsigned integer longer than 8 bytes")
    return int.from_bytes(data, "big")


def encode_id(eid: int) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big")


def encode_size(size: int, length: int | None = None) -> bytes:
    """A vint of `size`, in `length` bytes (the shortest that fits when None)."""
    if length is None:
        length = 1
        while size >= (1 << (7 * length)) - 1:
            length += 1
    if not 1 <= length <= 8 or size >= (1 << (7 * length)) - 1:
        raise ValueError("size does not fit")
    return ((1 << (7 * length)) | size).to_bytes(length, "big")


def element(eid: int, payload: bytes) -> bytes:
    return encode_id(eid) + encode_size(len(payload)) + payload


def uint_element(eid: int, value: int, width: int | None = None) -> bytes:
    """An unsigned integer element; `width` fixes its length (so its size does not depend on `value`)."""
    width = width or max(1, (value.bit_length() + 7) // 8)
    return element(eid, value.to_bytes(width, "big"))


def float_element(eid: int, value: float) -> bytes:
    return element(eid, struct.pack(">d", value))


def _span(buf: bytes | bytearray | memoryview, pos: int, most: int, what: str) -> int | None:
    """The length of the vint at `pos`; None when `buf` ends before it does."""
    if pos >= len(buf):
        return None
    length = _length(buf[pos], most, what)
    return length if pos + length <= len(buf) else None


def _length(first: int, most: int, what: str) -> int:
    if first == 0:
        raise Malformed(f"{what} longer than 8 bytes")
    length = 8 - first.bit_length() + 1
    if length > most:
        raise Malformed(f"{what} longer than {most} bytes")
    return length
