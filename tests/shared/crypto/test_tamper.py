"""Tamper suite: every way of damaging or misusing a sealed object raises the one DecryptionError."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from shared.crypto import (
    SEGMENT_OVERHEAD,
    DecryptionError,
    StreamContext,
    header_size,
    iter_range,
    iter_unseal,
    new_data_key,
    open_range,
    parse_header,
    seal,
    unseal,
)

SEG = 32
STEP = SEG + SEGMENT_OVERHEAD
H = header_size()
DEK = bytes(range(32))
CTX = StreamContext("rec-0001", "recording")
PT = bytes(range(256))[: 4 * SEG + 10]  # four full segments and a short final one
CT = seal(DEK, CTX, PT, segment_size=SEG)
OTHER = seal(DEK, CTX, PT, segment_size=SEG)  # same DEK, same context, different salt
OTHER_DEK = new_data_key()
FOREIGN = seal(OTHER_DEK, CTX, PT, segment_size=SEG)


def flip(data: bytes, pos: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[pos] ^= 1 << bit
    return bytes(out)


def segment(data: bytes, i: int) -> bytes:
    return data[H + i * STEP : H + (i + 1) * STEP]


def replace_segment(data: bytes, i: int, new: bytes) -> bytes:
    return data[: H + i * STEP] + new + data[H + (i + 1) * STEP :]


def swap_segments(data: bytes, i: int, j: int) -> bytes:
    a, b = segment(data, i), segment(data, j)
    return replace_segment(replace_segment(data, i, b), j, a)


# name -> (dek, ctx, ciphertext)
Case = tuple[bytes, StreamContext, bytes]
CASES: dict[str, Callable[[], Case]] = {
    "flip version byte": lambda: (DEK, CTX, flip(CT, 0)),
    "flip segment size": lambda: (DEK, CTX, flip(CT, 4, 1)),
    "flip salt": lambda: (DEK, CTX, flip(CT, 10)),
    "flip nonce prefix": lambda: (DEK, CTX, flip(CT, 5 + 32 + 3)),
    "flip commitment": lambda: (DEK, CTX, flip(CT, H - 1)),
    "flip first segment body": lambda: (DEK, CTX, flip(CT, H + 3)),
    "flip middle segment body": lambda: (DEK, CTX, flip(CT, H + 2 * STEP + 7, 7)),
    "flip final segment body": lambda: (DEK, CTX, flip(CT, len(CT) - SEGMENT_OVERHEAD - 1)),
    "flip tag": lambda: (DEK, CTX, flip(CT, H + STEP - 1)),
    "flip final tag": lambda: (DEK, CTX, flip(CT, len(CT) - 1)),
    "drop last segment": lambda: (DEK, CTX, CT[: H + 4 * STEP]),
    "drop last two segments": lambda: (DEK, CTX, CT[: H + 3 * STEP]),
    "cut mid-segment": lambda: (DEK, CTX, CT[: H + 2 * STEP + 20]),
    "drop trailing byte": lambda: (DEK, CTX, CT[:-1]),
    "drop trailing tag": lambda: (DEK, CTX, CT[:-SEGMENT_OVERHEAD]),
    "header only": lambda: (DEK, CTX, CT[:H]),
    "cut inside header": lambda: (DEK, CTX, CT[: H - 1]),
    "empty input": lambda: (DEK, CTX, b""),
    "reorder two segments": lambda: (DEK, CTX, swap_segments(CT, 1, 2)),
    "reorder first and second": lambda: (DEK, CTX, swap_segments(CT, 0, 1)),
    "splice segment from other object, same DEK": lambda: (DEK, CTX, replace_segment(CT, 2, segment(OTHER, 2))),
    "splice segment from other object, other DEK": lambda: (DEK, CTX, replace_segment(CT, 2, segment(FOREIGN, 2))),
    "header swapped between objects": lambda: (DEK, CTX, OTHER[:H] + CT[H:]),
    "header from other DEK's object": lambda: (DEK, CTX, FOREIGN[:H] + CT[H:]),
    "wrong DEK": lambda: (OTHER_DEK, CTX, CT),
    "wrong record id": lambda: (DEK, StreamContext("rec-0002", "recording"), CT),
    "wrong kind": lambda: (DEK, StreamContext("rec-0001", "note"), CT),
    "extra appended bytes": lambda: (DEK, CTX, CT + b"\x00"),
    "extra appended segment": lambda: (DEK, CTX, CT + segment(CT, 1)),
    "final segment marked as non-final (duplicate tail)": lambda: (DEK, CTX, CT + CT[H + 4 * STEP :]),
    "truncated to full segments only": lambda: (DEK, CTX, CT[: H + 2 * STEP]),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]()


def test_unseal_rejects(case: Case) -> None:
    dek, ctx, data = case
    with pytest.raises(DecryptionError):
        unseal(dek, ctx, data)


@pytest.mark.parametrize("step", [1, 13, STEP, 10_000])
def test_iter_unseal_rejects(case: Case, step: int) -> None:
    dek, ctx, data = case
    with pytest.raises(DecryptionError):
        for _ in iter_unseal(dek, ctx, [data[i : i + step] for i in range(0, len(data), step)]):
            pass


def test_open_range_rejects_whole_object(case: Case) -> None:
    dek, ctx, data = case

    def read(start: int, length: int) -> bytes:
        return data[start : start + length]

    with pytest.raises(DecryptionError):
        open_range(dek, ctx, read, len(data), 0, len(PT))


def test_open_range_detects_damage_in_the_segment_it_reads() -> None:
    bad = flip(CT, H + 2 * STEP + 1)

    def read(start: int, length: int) -> bytes:
        return bad[start : start + length]

    assert open_range(DEK, CTX, read, len(bad), 0, SEG) == PT[:SEG]  # untouched segment still opens
    with pytest.raises(DecryptionError):
        open_range(DEK, CTX, read, len(bad), 2 * SEG, 1)


def test_open_range_detects_a_lying_size_and_short_reads() -> None:
    def read(start: int, length: int) -> bytes:
        return CT[start : start + length]

    # The caller claims the object ends after segment 2: segment 2 was sealed as non-final.
    with pytest.raises(DecryptionError):
        open_range(DEK, CTX, read, H + 3 * STEP, 2 * SEG, 4)
    with pytest.raises(DecryptionError):
        open_range(DEK, CTX, lambda s, n: CT[s : s + n - 1], len(CT), 0, 4)
    with pytest.raises(DecryptionError):
        open_range(DEK, CTX, read, H - 1, 0, 4)
    with pytest.raises(DecryptionError):
        open_range(OTHER_DEK, CTX, read, len(CT), 0, 4)


def test_parse_header_rejects_garbage() -> None:
    too_small, too_big = b"\x01\x00\x00\x00\x00" + bytes(71), b"\x01\xff\xff\xff\xff" + bytes(71)
    for data in (b"", CT[: H - 1], flip(CT, 0), too_small, too_big):
        with pytest.raises(DecryptionError):
            parse_header(data)


def test_random_corruption_never_opens() -> None:
    rnd = os.urandom(64)
    for i, b in enumerate(rnd):
        pos = (b * 7919 + i * 104729) % len(CT)
        with pytest.raises(DecryptionError):
            unseal(DEK, CTX, flip(CT, pos, i % 8))


def test_iter_range_rejects_whole_object(case: Case) -> None:
    dek, ctx, data = case

    def read(start: int, length: int) -> bytes:
        return data[start : start + length]

    with pytest.raises(DecryptionError):
        for _ in iter_range(dek, ctx, read, len(data), 0, len(PT), read_size=STEP):
            pass


def test_iter_range_checks_the_header_before_returning() -> None:
    def read(start: int, length: int) -> bytes:
        return CT[start : start + length]

    # No iteration needed: a wrong key or context fails at the call, before any 206 could be sent.
    with pytest.raises(DecryptionError):
        iter_range(OTHER_DEK, CTX, read, len(CT), 0, 10)
    with pytest.raises(DecryptionError):
        iter_range(DEK, StreamContext("rec-0001", "note"), read, len(CT), 0, 10)
    with pytest.raises(ValueError):
        iter_range(DEK, CTX, read, len(CT), -1, 10)
    with pytest.raises(ValueError):
        iter_range(DEK, CTX, read, len(CT), 0, 10, read_size=0)
