"""Database edge shared by the services: engines, Alembic migrations, inbox and outbox tables.

SQLite (aiosqlite) is the embedded default, PostgreSQL (asyncpg) the production database; every
service owns its database and nobody else reads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.logging import get_logger

log = get_logger("tandem.db")


def async_url(url: str) -> str:
    """Accept plain URLs (sqlite:///x, postgresql://...) and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://"):]
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    full = async_url(url)
    if not full.startswith("sqlite") or ":///" not in full:
        return None
    path = full.split(":///", 1)[1].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def create_engine(url: str) -> AsyncEngine:
    full = async_url(url)
    if full.startswith("sqlite"):
        path = full.split(":///", 1)[1] if ":///" in full else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            try:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()
            except BaseException:
                # The pool does not close a connection whose connect event failed (the file is gone, say):
                # left open, its aiosqlite thread would outlive it, one more on every attempt of an outage.
                dbapi_conn.close()
                raise

        return engine
    return create_async_engine(full, pool_pre_ping=True, pool_size=10, max_overflow=10)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))


async def secure_delete(engine: AsyncEngine) -> None:
    """SQLite: zero deleted content on every connection from now on, so a shredded row's wrapped keys do
    not linger in free pages. Pooled connections (from the migrations) predate the listener: dropped."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine.sync_engine, "connect")
    def _pragma(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    await engine.dispose()


# -- migrations ---------------------------------------------------------------------------------------


SHARED_MIGRATIONS = Path(__file__).parent / "migrations"  # revision 0001 of every service: the bus tables


def alembic_config(migrations_dir: Path, connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    # A service's own revisions follow the shared first one (`down_revision = "0001"`).
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join([str(migrations_dir / "versions"),
                                                              str(SHARED_MIGRATIONS)]))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(engine: AsyncEngine, migrations_dir: Path, revision: str = "heads", *, lock_key: str = "") -> None:
    """Apply Alembic migrations on an async engine (safe inside a running event loop).

    `heads`: a service may carry independent branches (one per feature, `branch_labels`).
    On PostgreSQL a transaction-scoped advisory lock serialises instances starting together.
    """
    from alembic import command

    def _run(sync_conn: Any) -> None:
        command.upgrade(alembic_config(migrations_dir, sync_conn), revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(f"tandem-migrate:{lock_key}".encode()).digest()[:8], "big", signed=True)
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        await conn.run_sync(_run)


def run_env(target_metadata: sa.MetaData | None) -> None:
    """Body of every service's migrations/env.py: use the connection handed in by `upgrade`,
    or open one from `-x url=...` when run from the alembic command line."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("alembic: pass -x url=<database url>")

    async def _offline_engine() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                def _go(sync_conn: Any) -> None:
                    context.configure(connection=sync_conn, target_metadata=target_metadata, render_as_batch=True)
                    with context.begin_transaction():
                        context.run_migrations()
                await conn.run_sync(_go)
        finally:
            await engine.dispose()

    asyncio.run(_offline_engine())


# -- inbox (exactly-once effects) and outbox (no lost events) ---------------------------------------


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> tuple[sa.MetaData, sa.Table, sa.Table]:
    """A service's database: its metadata (one naming convention for all four) with the bus tables
    already declared on it: `metadata, inbox, outbox = service_metadata()`."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    inbox, outbox = bus_tables(metadata)
    return metadata, inbox, outbox


def bus_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The `processed_events` inbox and the `outbox` table, declared on a service's metadata."""
    inbox = sa.Table(
        "processed_events", metadata,
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    outbox = sa.Table(
        "outbox", metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True, index=True),
    )
    return inbox, outbox


def create_bus_tables_v1() -> None:
    """Migration operation (frozen: later changes get a v2) creating the inbox and outbox tables."""
    from alembic import op

    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])


async def claim_event(conn: AsyncConnection | AsyncSession, inbox: sa.Table, consumer: str, event_id: str) -> bool:
    """Record `event_id` as processed inside the caller's transaction; False if it already was.

    Call it first in the transaction that applies the event's effect: the effect and the mark
    commit together, so a redelivered event changes nothing the second time.
    """
    dialect = conn.get_bind().dialect.name if isinstance(conn, AsyncSession) else conn.dialect.name
    values = {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
    stmt: Any
    if dialect == "postgresql":
        stmt = pg_insert(inbox).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite_insert(inbox).values(**values).on_conflict_do_nothing()
    result: Any = await conn.execute(stmt)
    return bool(result.rowcount)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.begin() as conn:
        yield conn
