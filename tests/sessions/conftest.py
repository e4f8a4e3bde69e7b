"""Sessions fixtures: the app on a real database and Redis, users seeded through the real bus (helpers:
tests/support/sessions.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.sessions.app import create_app
from tests.support.identity import TestIssuer
from tests.support.sessions import MENTOR, OPERATOR, OTHER_MENTOR, Api, publish_users, sessions_settings, wait_projected


@pytest.fixture
async def api(db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer) -> AsyncIterator[Api]:
    await publish_users(redis)
    app = create_app(sessions_settings(db_url, redis_url, issuer))
    async with issuer.bind(AsyncTestClient(app)) as client:
        await wait_projected(app, MENTOR, vetted=True, agreements_accepted=True)
        await wait_projected(app, OTHER_MENTOR, vetted=True)
        await wait_projected(app, OPERATOR)
        yield Api(client, issuer)


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
