"""Fixtures of the reports tests: the app on a real database (SQLite and PostgreSQL), real Redis and
a real SeaweedFS bucket of its own (helpers to call it as any role: tests/support/reports.py)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from deploy.local.children import S3Child
from services.reports.app import create_app
from shared.logging import configure_logging
from tests.support.identity import TestIssuer
from tests.support.reports import Api, SetClock, make_settings


@pytest.fixture
def insecure_fast_argon2() -> dict[str, int]:
    """argon2id at its cheapest: the tests check which code paths run, never how long they take."""
    return {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", json=True, stream=stream, service="reports")
    yield stream
    configure_logging("info", json=True)


@pytest.fixture
async def api(tmp_path: Path, db_url: str, redis_url: str, s3_server: S3Child, issuer: TestIssuer,
              insecure_fast_argon2: dict[str, int]) -> AsyncIterator[Api]:
    """The app on the run's database backend."""
    settings = make_settings(tmp_path, db_url, redis_url, s3_server, issuer, **insecure_fast_argon2)
    clock = SetClock()
    async with issuer.bind(AsyncTestClient(create_app(settings, clock=clock))) as client:
        yield Api(client, issuer, settings, clock)
