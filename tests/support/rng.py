"""Deterministic randomness for the crypto tests: an rng that hands out given bytes, or a counter."""

from __future__ import annotations

from collections.abc import Callable


def fixed_rng(data: bytes) -> Callable[[int], bytes]:
    """An rng that hands out `data` in order and fails loudly when it runs out."""
    buf = bytearray(data)

    def rng(n: int) -> bytes:
        if len(buf) < n:
            raise AssertionError("fixed rng exhausted")
        out = bytes(buf[:n])
        del buf[:n]
        return out

    return rng


def counter_rng(seed: int = 0) -> Callable[[int], bytes]:
    """Deterministic, never exhausted, distinct output per call (for tests that seal many objects)."""
    state = [seed]

    def rng(n: int) -> bytes:
        state[0] += 1
        return (state[0].to_bytes(8, "big") * (n // 8 + 1))[:n]

    return rng
