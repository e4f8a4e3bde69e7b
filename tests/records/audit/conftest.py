"""Fixtures of the audit ledger tests: a migrated records database and fresh ledger keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.audit.keys import AuditKeys
from services.records.audit.service import Ledger, NewEntry
from shared.db import create_engine, upgrade

MIGRATIONS = Path(__file__).parents[3] / "services" / "records" / "migrations"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class StepClock:
    """A clock that advances one second per reading: deterministic timestamps."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    await upgrade(eng, MIGRATIONS)
    yield eng
    await eng.dispose()


@pytest.fixture
def keys() -> AuditKeys:
    return AuditKeys.generate()


@pytest.fixture
def ledger(engine: AsyncEngine, keys: AuditKeys) -> Ledger:
    return Ledger(engine, keys, clock=StepClock())


def entry(i: int, **kw: object) -> NewEntry:
    base: dict[str, object] = {
        "event_id": f"ev-{i:06d}", "occurred_at": T0 + timedelta(minutes=i), "source": "records",
        "actor": f"user:{i % 3}", "action": "record.read", "target": f"record:{i}", "outcome": "success",
        "reason": None,
    }
    base.update(kw)
    return NewEntry(**base)  # type: ignore[arg-type]


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "audit-keys"
