"""Time, one way for every service: a `Clock` is a zero-argument callable answering the current time as an
aware UTC datetime; `utcnow` is the real one. Code that needs seconds (token lifetimes, Redis expiries)
takes an `EpochClock` instead. Tests pass a fake of either."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import overload

Clock = Callable[[], datetime]
EpochClock = Callable[[], float]


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """A datetime read back from a database as UTC-aware (SQLite drops the zone; PostgreSQL keeps it)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
