"""HTTP Range (RFC 9110 §14) for one byte range; pure and unit-tested."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    """416: the range lies outside the representation."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """None means "send the whole representation" (no header, a syntax we ignore, or several ranges)."""
    if not header:
        return None
    m = _RANGE.match(header)
    if m is None:
        # Multiple ranges or another unit: RFC 9110 lets a server ignore Range and send 200.
        return None
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if last != "" and int(last) < start:
        return None  # invalid syntax: ignore
    if start >= size:
        raise Unsatisfiable
    end = int(last) if last != "" else size - 1
    return ByteRange(start, min(end, size - 1))
