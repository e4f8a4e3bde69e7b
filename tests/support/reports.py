"""Reports test helpers: a handle to call the app as any role (and to run calls on its own loop), the
settings it runs with, and the canary text that concerns carry."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from litestar import Litestar
from litestar.testing import AsyncTestClient

from deploy.local.children import S3Child
from services.reports.config import Settings
from services.reports.context import ReportsContext
from shared.service import Runtime
from tests.support.identity import TestIssuer

T = TypeVar("T")

CANARY = "CANARY-7f3a Dr Quentin Blake touched me without consent after session 42"


class SetClock:
    """The app's clock (`create_app(settings, clock=...)`): the real time until a test sets `at`, that
    instant from then on (`at = None`: the real time again)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


@dataclass
class Api:
    client: AsyncTestClient[Litestar]
    issuer: TestIssuer
    settings: Settings
    clock: SetClock

    def __post_init__(self) -> None:
        self.issuer.bind(self.client)  # each request's assertion bound to it, as the gateway mints them

    @property
    def runtime(self) -> Runtime:
        runtime = self.client.app.state.runtime
        assert isinstance(runtime, Runtime)
        return runtime

    @property
    def ctx(self) -> ReportsContext:
        ctx = self.client.app.state.context
        assert isinstance(ctx, ReportsContext)
        return ctx

    def as_(self, sub: str, *roles: str, **extra: str) -> dict[str, str]:
        return {**self.issuer.headers(sub, list(roles), "reports"), **extra}

    def public(self, **extra: str) -> dict[str, str]:
        """What the gateway forwards for the unauthenticated public form."""
        return self.as_("anonymous", **extra)

    async def file(self, headers: dict[str, str], **body: Any) -> dict[str, Any]:
        payload = {"category": "boundary", "text": CANARY, **body}
        resp = await self.client.post("/concerns", json=payload, headers=headers)
        assert resp.status_code == 201, resp.text
        data: dict[str, Any] = resp.json()
        return data

    async def in_app(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `fn(*args)` on the app's own event loop (the test client runs the app in a portal thread)."""
        return await asyncio.to_thread(self.client.blocking_portal.call, fn, *args)

    async def relay(self) -> None:
        """Publish whatever the outbox holds now (the relay task would do it within a second)."""
        outbox = self.runtime.outbox
        assert outbox is not None

        async def drain() -> None:
            while await outbox.relay_once():
                pass

        await self.in_app(drain)


def make_settings(tmp_path: Path, db_url: str, redis_url: str, s3: S3Child, issuer: TestIssuer,
                  **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url, "redis_url": redis_url, "jwks_file": str(issuer.jwks_path),
        "s3_endpoint": s3.endpoint, "s3_access_key": s3.access_key, "s3_secret_key": s3.secret_key,
        "s3_bucket": f"reports-{secrets.token_hex(4)}", "keyring_path": str(tmp_path / "reports-keyring.json"),
        "sweep_interval_s": 0.0, "max_attachment_bytes": 64 * 1024, **overrides,
    }
    return Settings(**values)
