"""Fixtures of the audit ledger tests: a migrated records database and fresh ledger keys (helpers:
tests/support/audit.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.local.children import S3Child
from services.records.app import MIGRATIONS
from services.records.audit.keys import AuditKeys
from services.records.audit.service import Ledger
from shared.db import create_engine, upgrade
from tests.support.audit import AuditApp, StepClock, app_settings, open_audit_app
from tests.support.identity import TestIssuer


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


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "audit-keys"


@pytest.fixture
async def audit_app(tmp_path: Path, db_url: str, redis_url: str, s3_server: S3Child,
                    issuer: TestIssuer) -> AsyncIterator[AuditApp]:
    """The records app (ledger consumer and routes included) on the run's database backend."""
    async for app in open_audit_app(app_settings(tmp_path, db_url, redis_url, s3_server, issuer), issuer):
        yield app
