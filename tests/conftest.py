"""Real servers for the whole suite: a private redis-server and a SeaweedFS S3 endpoint (session
scope, free loopback ports), PostgreSQL at 127.0.0.1:5432 when reachable (required when CI=true)."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as redis_sync
from redis.asyncio import Redis

from deploy.local.children import RedisChild, S3Child, start_redis, start_seaweed
from tests.support.identity import TestIssuer

PG_ADMIN_DSN = os.environ.get("TANDEM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """A test that configures logging (level, stream) must not change what the next test sees."""
    yield
    import logging

    import structlog

    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logging.getLogger().handlers.clear()
    logging.getLogger("uvicorn.access").disabled = False


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tandem-tests-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def redis_server(tmp_root: Path) -> Iterator[RedisChild]:
    child = start_redis(tmp_root / "redis")
    yield child
    child.stop()


@pytest.fixture
def redis_url(redis_server: RedisChild) -> str:
    """A clean Redis for each test (same server, flushed)."""
    client = redis_sync.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def s3_server(tmp_root: Path) -> Iterator[S3Child]:
    child = start_seaweed(tmp_root / "s3", access_key="tandem-test", secret_key=secrets.token_hex(16))
    yield child
    child.stop()


def _pg_reachable() -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@pytest.fixture(scope="session")
def pg_available() -> bool:
    ok = _pg_reachable()
    if not ok and os.environ.get("CI") == "true":
        pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432 but CI expects it")
    return ok


async def _create_pg_db(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_pg_db(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> AsyncIterator[str]:
    """A fresh, empty database: SQLite file, and PostgreSQL when reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not pg_available:
        pytest.skip("PostgreSQL not reachable")
    name = f"tandem_test_{secrets.token_hex(6)}"
    await _create_pg_db(name)
    try:
        yield PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _drop_pg_db(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def issuer(tmp_root: Path) -> TestIssuer:
    """Stands in for the gateway's assertion signer in service-level tests (the gateway's own tests
    use the real one)."""
    return TestIssuer.create(tmp_root / "jwks.json")
