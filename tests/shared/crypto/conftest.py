"""Fixtures of the crypto tests: a stream context (deterministic randomness: tests/support/rng.py)."""

from __future__ import annotations

import pytest

from shared.crypto import StreamContext


@pytest.fixture
def ctx() -> StreamContext:
    return StreamContext("rec-0001", "recording")
