"""Fixtures of the gateway tests: a controllable clock, settings on a migrated database, the gateway
under a real uvicorn server (helpers: tests/support/gateway.py; the migrated database template:
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.config import Settings
from tests.support.gateway import Clock, Harness, insecure_fast_argon2_settings
from tests.support.servers import serve


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gw_settings(redis_url: str, gateway_db: Callable[..., str]) -> Settings:
    return insecure_fast_argon2_settings(gateway_db(), redis_url)


@pytest.fixture
async def harness(gw_settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    """The gateway under a real uvicorn server in the test's event loop (so tests may also call its
    internals, which share the loop's Redis and database clients)."""
    app = create_app(gw_settings, clock=clock, run_consumers=False)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Harness(app, client, clock, gw_settings, url=url)
