"""Real servers for the whole suite: a private redis-server and a SeaweedFS S3 endpoint (session
scope, free loopback ports), and the services' databases on the backend the run chose.

`--database=sqlite|postgresql` (or TANDEM_TEST_DATABASE; default sqlite) picks the backend for the whole
run. `database_url(name)` hands out fresh databases on it: a SQLite file under tmp_path, or a freshly
created PostgreSQL database at 127.0.0.1:5432 (TANDEM_TEST_PG) dropped at teardown. Tests that reach a
database through these fixtures are marked `database` at collection; a PostgreSQL run deselects the rest
(crypto vectors, property tests, bus-only tests: they would repeat identical work), and skips tests
marked `sqlite_pass_only` (their database use is incidental: a second pass would repeat the same work).
`migrated_template` / `gateway_db` hand out copies of a gateway database migrated once per run (the
gateway's tests and the tests that put a real gateway in front of a service use them).
Helpers live in tests/support/ (tests/support/databases.py: `Databases`); conftest modules hold fixtures.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

# Imported (and so compiled by pytest's assertion rewriter) now, not by its plugin's summary after the run:
# CPython 3.11.7 can fail a late compile after threaded tests with "AST constructor recursion depth
# mismatch" (python/cpython#106905, fixed in 3.11.8).
import hypothesis  # noqa: F401
import pytest
import redis as redis_sync
from redis.asyncio import Redis

from deploy.local.children import RedisChild, S3Child, start_redis, start_seaweed
from tests.support.databases import PG_ADMIN_DSN, Databases, pg_reachable
from tests.support.identity import TestIssuer

BACKENDS = ("sqlite", "postgresql")
# Fixtures that hand out a database on the chosen backend: a test whose fixture closure holds one of
# these "uses a database" (marker `database`) and runs in the PostgreSQL pass.
DATABASE_FIXTURES = frozenset({"database_url", "module_database_url", "session_database_url", "db_url"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--database", choices=BACKENDS, default=os.environ.get("TANDEM_TEST_DATABASE") or "sqlite",
                     help="database backend for the services' databases in this run (default: sqlite, or "
                          "TANDEM_TEST_DATABASE); with postgresql only tests that use a database run")


def pytest_configure(config: pytest.Config) -> None:
    # Operator commands act on the local stack `tandem run` wrote down (shared/localstack.py): never let
    # the suite's find a developer's running stack. A test that wants one sets TANDEM_VAR_DIR itself.
    # (A folder that does not exist: nothing is found there and nothing is left behind.)
    os.environ["TANDEM_VAR_DIR"] = os.path.join(tempfile.gettempdir(), f"tandem-no-stack-{os.getpid()}")
    if config.getoption("--database") not in BACKENDS:  # an unknown TANDEM_TEST_DATABASE value
        raise pytest.UsageError(f"--database / TANDEM_TEST_DATABASE must be one of {', '.join(BACKENDS)}")
    config.addinivalue_line("markers", "database: uses a database on the run's backend (set at collection)")
    config.addinivalue_line("markers", "sqlite_pass_only(reason): uses a database only incidentally; "
                                       "not repeated in the PostgreSQL pass")


def pytest_report_header(config: pytest.Config) -> str:
    backend = config.getoption("--database")
    extra = " (tests that use no database are deselected)" if backend == "postgresql" else ""
    return f"tandem database backend: {backend}{extra}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    postgresql = config.getoption("--database") == "postgresql"
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        # `fixturenames` is the test's whole fixture closure, so indirect use counts too.
        if DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)
            only = item.get_closest_marker("sqlite_pass_only")
            if postgresql and only is not None:
                reason = only.kwargs.get("reason") or (only.args[0] if only.args else "")
                item.add_marker(pytest.mark.skip(reason=f"SQLite pass only: {reason}"))
            kept.append(item)
        elif postgresql:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    if postgresql and kept and not pg_reachable():
        pytest.exit(f"--database=postgresql but PostgreSQL is not reachable at {PG_ADMIN_DSN} "
                    "(start it, or set TANDEM_TEST_PG to an admin DSN)", returncode=pytest.ExitCode.USAGE_ERROR)


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


@pytest.fixture(scope="session")
def database_backend(request: pytest.FixtureRequest) -> str:
    """The run's backend; a PostgreSQL run fails at once when the server is not reachable."""
    backend: str = request.config.getoption("--database")
    if backend == "postgresql" and not pg_reachable():
        pytest.fail(f"--database=postgresql but PostgreSQL is not reachable at {PG_ADMIN_DSN}")
    return backend


@pytest.fixture
def database_url(database_backend: str, tmp_path: Path) -> Iterator[Databases]:
    """A factory of fresh databases on the run's backend: `database_url("records")` → URL."""
    dbs = Databases(database_backend, tmp_path)
    try:
        yield dbs
    finally:
        dbs.close()


@pytest.fixture(scope="module")
def module_database_url(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """The same for module-scoped fixtures (a whole stack shared by a module's tests)."""
    dbs = Databases(database_backend, tmp_path_factory.mktemp("db"))
    try:
        yield dbs
    finally:
        dbs.close()


@pytest.fixture(scope="session")
def session_database_url(database_backend: str, tmp_root: Path) -> Iterator[Databases]:
    """The same for session-scoped fixtures (e.g. a migrated template that tests copy)."""
    dbs = Databases(database_backend, tmp_root / "db")
    try:
        yield dbs
    finally:
        dbs.close()


@pytest.fixture
def db_url(database_url: Databases) -> str:
    """One fresh, empty database on the run's backend."""
    return database_url("test")


@pytest.fixture(scope="session")
def migrated_template(session_database_url: Databases) -> str:
    """A gateway database migrated once on the run's backend; each test starts from a copy (saves ~0.5 s a
    test): `gateway_db()`."""
    from services.gateway.app import create_app  # here, not at the top: the suite's conftest loads no service
    from shared import db as dbmod

    url = session_database_url("gateway_template")

    async def _migrate() -> None:
        engine = dbmod.create_engine(url)
        try:
            await dbmod.upgrade(engine, Path(create_app.__code__.co_filename).parent / "migrations")
        finally:
            await engine.dispose()

    asyncio.run(_migrate())
    return url


@pytest.fixture
def gateway_db(database_url: Databases, migrated_template: str) -> Callable[..., str]:
    """A factory of migrated gateway databases (copies of the template): `gateway_db("up")` → URL."""
    def make(name: str = "gateway") -> str:
        return database_url(name, template=migrated_template)
    return make


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file whatever the backend: only for tests of SQLite behaviour itself."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def issuer(tmp_root: Path) -> TestIssuer:
    """Stands in for the gateway's assertion signer in service-level tests (the gateway's own tests
    use the real one)."""
    return TestIssuer.create(tmp_root / "jwks.json")
