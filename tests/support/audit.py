"""Audit ledger test helpers: a stepping clock, ledger entries, and the records app with its ledger
(settings, a handle that runs calls on the app's own loop)."""

from __future__ import annotations

import asyncio
import gc
import secrets
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from deploy.local.children import S3Child
from services.records.app import create_app
from services.records.audit.service import Ledger, NewEntry
from services.records.audit.tables import audit_entries
from services.records.config import Settings
from services.records.context import RecordsContext
from shared.bus import Consumer
from shared.service import Runtime
from tests.support.identity import TestIssuer

T = TypeVar("T")
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class StepClock:
    """A clock that advances one second per reading: deterministic timestamps."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def entry(i: int, **kw: object) -> NewEntry:
    base: dict[str, object] = {
        "event_id": f"ev-{i:06d}", "occurred_at": T0 + timedelta(minutes=i), "source": "records",
        "actor": f"user:{i % 3}", "action": "record.read", "target": f"record:{i}", "outcome": "success",
        "reason": None,
    }
    base.update(kw)
    return NewEntry(**base)  # type: ignore[arg-type]


def app_settings(tmp_path: Path, db_url: str, redis_url: str, s3: S3Child, issuer: TestIssuer,
                 **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url, "redis_url": redis_url, "jwks_file": str(issuer.jwks_path),
        "s3_endpoint": s3.endpoint, "s3_access_key": s3.access_key, "s3_secret_key": s3.secret_key,
        "s3_bucket": f"rec-{secrets.token_hex(6)}", "keyring_path": str(tmp_path / "keys" / "keyring.json"),
        "audit_key_dir": str(tmp_path / "audit-keys"), "audit_bucket": f"audit-{secrets.token_hex(6)}",
        "audit_lock_days": 1, "sweep_interval_s": 0.0, "instance_id": f"t-{secrets.token_hex(3)}",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class AuditApp:
    client: AsyncTestClient[Litestar]
    app: Litestar
    settings: Settings
    issuer: TestIssuer

    def __post_init__(self) -> None:
        self.issuer.bind(self.client)  # each request's assertion bound to it, as the gateway mints them

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def context(self) -> RecordsContext:
        context: RecordsContext = self.app.state.context
        return context

    @property
    def ledger(self) -> Ledger:
        return self.context.ledger

    @property
    def consumers(self) -> list[Consumer]:
        consumers: list[Consumer] = self.app.state.consumers
        return consumers

    def h(self, sub: str, *roles: str) -> dict[str, str]:
        return self.issuer.headers(sub, list(roles), "records")

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await `fn` on the app's own event loop (the test client runs the app in another thread):
        the engine, Redis client and ledger lock belong to that loop."""
        portal = self.client.blocking_portal
        return await asyncio.to_thread(lambda: portal.call(lambda: fn(*args, **kwargs)))


async def open_audit_app(settings: Settings, issuer: TestIssuer) -> AsyncIterator[AuditApp]:
    app = create_app(settings)
    async with issuer.bind(AsyncTestClient(app)) as client:
        yield AuditApp(client, app, settings, issuer)
    # Some tests take the database away under the running app. A background task cancelled at shutdown
    # while it held a pooled connection leaves SQLAlchemy's shielded close unfinished when the app's loop
    # stops, and its aiosqlite connection is only collected later, warning in whichever test runs then.
    # Collect it here, where it belongs; the file it pointed at is gone with the test's database anyway.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "<aiosqlite.core.Connection object", ResourceWarning)
        gc.collect()


async def appended(app: AuditApp, count: int) -> list[Any]:
    """The ledger's rows in order, once at least `count` of them are there."""

    async def read() -> list[Any]:
        async with app.runtime.engine.connect() as conn:
            return list((await conn.execute(sa.select(audit_entries).order_by(audit_entries.c.seq))).all())
    async with asyncio.timeout(20):
        while len(rows := await app.run(read)) < count:
            await asyncio.sleep(0.05)
    return rows
