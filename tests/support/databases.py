"""Fresh databases on the run's backend: a SQLite file under a folder, or a PostgreSQL database at
127.0.0.1:5432 (TANDEM_TEST_PG) created for the test and dropped at teardown."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PG_ADMIN_DSN = os.environ.get("TANDEM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_reachable() -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


async def _create_pg_db(name: str, template: str | None = None) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()


async def _drop_pg_db(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion from sync or async code (the caller's loop, if any, is left alone)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


class Databases:
    """Fresh databases on one backend; `__call__(name)` returns a new URL each time (two services in one
    test get two databases), `close()` drops the PostgreSQL ones."""

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend, self.directory = backend, directory
        self.created: list[str] = []

    def __call__(self, name: str = "db", *, template: str | None = None) -> str:
        """A new database; `template` (a URL from the same backend) makes it a copy of that one."""
        slug = re.sub(r"[^a-z0-9_]", "_", name.lower())[:30] or "db"
        if self.backend == "sqlite":
            path = self.directory / f"{slug}.db"
            n = 1
            while path.exists() or str(path) in self.created:
                n += 1
                path = self.directory / f"{slug}-{n}.db"
            self.created.append(str(path))
            if template is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(template.split(":///", 1)[1], path)
            return f"sqlite:///{path}"
        db = f"tandem_test_{slug}_{secrets.token_hex(5)}"
        _run(_create_pg_db(db, template.rsplit("/", 1)[1] if template else None))
        self.created.append(db)
        return PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{db}"

    def close(self) -> None:
        if self.backend == "postgresql":
            for db in self.created:
                _run(_drop_pg_db(db))
        self.created.clear()


def service_databases(dbs: Databases, services: tuple[str, ...] = ("gateway", "sessions", "records", "reports")
                      ) -> dict[str, str]:
    """`<SERVICE>_DATABASE_URL` for each service, one fresh database each: for `tandem run` (its environment
    wins over the var/ SQLite defaults) and `Stack` (`Options.extra_env`)."""
    return {f"{name.upper()}_DATABASE_URL": dbs(name) for name in services}
