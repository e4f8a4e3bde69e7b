"""Property tests: random sizes around segment boundaries, random chunking, random ranges vs slicing."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.crypto import (
    StreamContext,
    StreamSealer,
    ciphertext_size,
    iter_range,
    iter_unseal,
    open_range,
    seal,
    unseal,
)

DEK = bytes(range(32))
CTX = StreamContext("rec-prop", "recording")
SEGMENTS = st.sampled_from([16, 17, 64, 100])


@st.composite
def plaintexts(draw: st.DrawFn) -> tuple[int, bytes]:
    seg = draw(SEGMENTS)
    size = draw(
        st.one_of(
            st.sampled_from([0, 1, seg - 1, seg, seg + 1, 2 * seg, 2 * seg + 1, 7 * seg]),
            st.integers(0, 12 * seg),
        )
    )
    seed = draw(st.integers(0, 2**32 - 1))
    return seg, random.Random(seed).randbytes(size)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(plaintexts(), st.lists(st.integers(1, 300), min_size=1, max_size=8))
def test_round_trip_with_any_chunking(case: tuple[int, bytes], cuts: list[int]) -> None:
    seg, pt = case
    sealer = StreamSealer(DEK, CTX, segment_size=seg)
    out = [sealer.header]
    pos, i = 0, 0
    while pos < len(pt):
        n = cuts[i % len(cuts)]
        out.append(sealer.update(pt[pos : pos + n]))
        pos, i = pos + n, i + 1
    out.append(sealer.finalize())
    ct = b"".join(out)
    assert len(ct) == ciphertext_size(len(pt), seg) == sealer.ciphertext_size
    assert unseal(DEK, CTX, ct) == pt
    step = cuts[0]
    assert b"".join(iter_unseal(DEK, CTX, (ct[j : j + step] for j in range(0, len(ct), step)))) == pt


@FAST
@given(plaintexts(), st.data())
def test_random_ranges_match_slicing(case: tuple[int, bytes], data: st.DataObject) -> None:
    seg, pt = case
    ct = seal(DEK, CTX, pt, segment_size=seg)
    reads: list[tuple[int, int]] = []

    def read(start: int, length: int) -> bytes:
        reads.append((start, length))
        return ct[start : start + length]

    for _ in range(5):
        offset = data.draw(st.integers(0, len(pt) + 2 * seg))
        length = data.draw(st.integers(0, len(pt) + 2 * seg))
        reads.clear()
        assert open_range(DEK, CTX, read, len(ct), offset, length) == pt[offset : offset + length]
        # Header plus at most the covering segments, never the whole object for a small range; a range
        # at or past the end reads the final segment, whose flag proves where the object ends.
        end = min(len(pt), offset + length)
        covering = 0 if offset >= end else (end - 1) // seg - offset // seg + 1
        if offset >= end and offset + length >= len(pt):
            covering = 1
        assert sum(n for _, n in reads[1:]) <= covering * (seg + 16)


@FAST
@given(plaintexts(), st.data())
def test_iter_range_matches_slicing_and_reads_the_header_once(case: tuple[int, bytes], data: st.DataObject) -> None:
    seg, pt = case
    ct = seal(DEK, CTX, pt, segment_size=seg)
    reads: list[tuple[int, int]] = []

    def read(start: int, length: int) -> bytes:
        reads.append((start, length))
        return ct[start : start + length]

    offset = data.draw(st.integers(0, len(pt) + seg))
    length = data.draw(st.integers(0, len(pt) + seg))
    read_size = data.draw(st.integers(1, 5 * (seg + 16)))
    pieces = list(iter_range(DEK, CTX, read, len(ct), offset, length, read_size=read_size))
    assert b"".join(pieces) == pt[offset : offset + length]
    assert all(pieces)
    assert [r for r in reads if r[0] == 0] == [(0, 76)]
    assert all(n <= max(read_size, seg + 16) for start, n in reads[1:])


GOOD = seal(DEK, CTX, bytes(range(200)), segment_size=32)


def _all_openers_reject(data: bytes) -> None:
    """Every opening path raises DecryptionError (never IndexError, struct.error, a partial result...)."""
    from shared.crypto import DecryptionError

    for attempt in (
        lambda: unseal(DEK, CTX, data),
        lambda: b"".join(iter_unseal(DEK, CTX, [data[i : i + 50] for i in range(0, len(data), 50)])),
        lambda: open_range(DEK, CTX, lambda s, n: data[s : s + n], len(data), 0, 1000),
        lambda: b"".join(iter_range(DEK, CTX, lambda s, n: data[s : s + n], len(data), 0, 1000)),
    ):
        try:
            attempt()
        except DecryptionError:
            continue
        raise AssertionError("a damaged object opened")


@FAST
@given(st.binary(max_size=400))
def test_garbage_is_rejected(data: bytes) -> None:
    _all_openers_reject(data)


@FAST
@given(st.integers(0, len(GOOD) - 1), st.sampled_from(["flip", "delete", "insert", "truncate"]), st.integers(0, 255))
def test_any_single_edit_is_rejected(pos: int, edit: str, value: int) -> None:
    data = bytearray(GOOD)
    if edit == "flip":
        data[pos] ^= (value % 255) + 1
    elif edit == "delete":
        del data[pos]
    elif edit == "insert":
        data.insert(pos, value)
    else:
        del data[pos:]
    _all_openers_reject(bytes(data))


def test_truncated_to_an_empty_looking_object_is_rejected_by_range_reads() -> None:
    """Found by the fuzz test: cut right after the first tag, the object's size claims an empty
    plaintext; a range read must still prove the end (the final segment's flag), not return b""."""
    import pytest

    from shared.crypto import DecryptionError

    cut = GOOD[: 76 + 16]
    with pytest.raises(DecryptionError):
        open_range(DEK, CTX, lambda s, n: cut[s : s + n], len(cut), 0, 1000)
    with pytest.raises(DecryptionError):
        b"".join(iter_range(DEK, CTX, lambda s, n: cut[s : s + n], len(cut), 0, 1000))
    empty = seal(DEK, CTX, b"", segment_size=32)
    assert open_range(DEK, CTX, lambda s, n: empty[s : s + n], len(empty), 0, 10) == b""
    assert open_range(DEK, CTX, lambda s, n: GOOD[s : s + n], len(GOOD), 500, 10) == b""
