"""Fixtures for the records service: a real app (SQLite or PostgreSQL), SeaweedFS, Redis, a keyring
(helpers: tests/support/records.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.local.children import S3Child
from services.records.config import Settings
from tests.support.identity import TestIssuer
from tests.support.records import Harness, make_settings, open_harness


@pytest.fixture
def settings_factory(tmp_path: Path, redis_url: str, s3_server: S3Child, issuer: TestIssuer):  # type: ignore[no-untyped-def]
    def make(db_url: str, **overrides: Any) -> Settings:
        return make_settings(tmp_path, db_url, redis_url, s3_server, issuer, **overrides)
    return make


@pytest.fixture
async def harness(db_url: str, settings_factory: Any, issuer: TestIssuer,
                  s3_server: S3Child) -> AsyncIterator[Harness]:
    """The records app on the run's database backend."""
    async for h in open_harness(settings_factory(db_url), issuer, s3_server):
        yield h


@pytest.fixture
async def db_harness(harness: Harness) -> Harness:
    """The same as `harness` (kept for tests whose subject is the SQL: every run uses the chosen backend)."""
    return harness


@pytest.fixture
def canary() -> Iterator[str]:
    yield f"CANARY-{secrets.token_hex(8)}-PLAINTEXT"
