"""Fixtures of the dispute tests: the records app with its ledger (SQLite and PostgreSQL), a settable
clock shared by the app and the test's own Records, a pair with recordings of two sessions (helpers:
tests/support/disputes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from deploy.local.children import S3Child
from tests.support.disputes import Clock, World, build_world, dispute_settings
from tests.support.identity import TestIssuer
from tests.support.records import open_harness


@pytest.fixture
async def world(db_url: str, settings_factory: Any, issuer: TestIssuer, s3_server: S3Child, tmp_path: Path,
                redis: Redis) -> AsyncIterator[World]:
    """The workflow's world on the run's database backend."""
    clock = Clock()
    async for h in open_harness(settings_factory(db_url, **dispute_settings(tmp_path)), issuer, s3_server,
                                clock=clock):
        yield await build_world(h, redis, clock)
