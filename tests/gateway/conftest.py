"""Gateway test helpers: a controllable clock, fast-but-insecure argon2 settings, in-process apps
and real uvicorn servers on free loopback ports, sign-in helpers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
import uvicorn
from litestar import Litestar

from deploy.local.children import free_port
from services.gateway.app import create_app
from services.gateway.config import Settings
from services.gateway.core import Gateway
from tests.support.databases import Databases

PASSWORD = "correct horse battery staple"


class Clock:
    """Starts at the real time (Redis TTLs stay sensible) and moves only when told."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def insecure_fast_argon2_settings(database_url: str, redis_url: str, **overrides: Any) -> Settings:
    """Weakened argon2 (tests only: production defaults are 3 passes, 64 MiB)."""
    values: dict[str, Any] = {
        "database_url": database_url, "redis_url": redis_url,
        "argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1,
        "key_publish_ahead_s": 0, "key_check_interval_s": 3600.0, "issuer": "http://gateway.test",
        "log_json": True, "bus_claim_idle_ms": 200,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def migrated_template(session_database_url: Databases) -> str:
    """A gateway database migrated once on the run's backend; each test starts from a copy (saves ~0.5 s a
    test): `gateway_db()`."""
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
def gw_settings(redis_url: str, gateway_db: Callable[..., str]) -> Settings:
    return insecure_fast_argon2_settings(gateway_db(), redis_url)


@dataclass
class Browser:
    user_id: str
    cookie: str
    csrf: str
    cookie_name: str
    roles: list[str] = field(default_factory=list)

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        h = {"cookie": f"{self.cookie_name}={self.cookie}"}
        if csrf:
            h["x-csrf-token"] = self.csrf
        return h


@dataclass
class Harness:
    app: Litestar
    client: Any  # AsyncTestClient or httpx.AsyncClient against a live server
    clock: Clock
    settings: Settings
    totp: dict[str, str] = field(default_factory=dict)  # email -> secret
    users: dict[str, str] = field(default_factory=dict)  # email -> user id
    url: str = ""
    totp_steps: dict[str, int] = field(default_factory=dict)

    @property
    def gw(self) -> Gateway:
        return self.app.state.runtime.extras["gateway"]  # type: ignore[no-any-return]

    async def make_user(self, email: str, roles: list[str], password: str = PASSWORD) -> str:
        user_id, token, _ = await self.gw.accounts.create_user("test", email, email.split("@")[0], roles)
        r = await self.client.post("/auth/invitations/accept", json={"token": token, "password": password})
        assert r.status_code == 200, r.text
        uri = r.json()["totp_uri"]
        if uri:
            self.totp[email] = parse_qs(urlparse(uri).query)["secret"][0]
        self.users[email] = user_id
        return user_id

    def code(self, email: str) -> str:
        return pyotp.TOTP(self.totp[email]).at(int(self.clock()))

    async def login(self, email: str, password: str = PASSWORD) -> Browser:
        body: dict[str, Any] = {"email": email, "password": password}
        if email in self.totp:
            step = int(self.clock()) // 30
            if step <= self.totp_steps.get(email, -1):
                # A TOTP code works once: move to a fresh time step. (Only then: the internal services
                # behind a proxy check assertion times against the real clock.)
                self.clock.advance(31)
                step = int(self.clock()) // 30
            self.totp_steps[email] = step
            body["totp_code"] = self.code(email)
        r = await self.client.post("/auth/login", json=body)
        assert r.status_code == 200, r.text
        cookie = r.cookies.get(self.settings.cookie_name) or _cookie_from(r.headers.get_list("set-cookie"),
                                                                          self.settings.cookie_name)
        data = r.json()
        return Browser(data["user_id"], cookie, data["csrf_token"], self.settings.cookie_name, data["roles"])

    async def user(self, email: str, roles: list[str]) -> Browser:
        await self.make_user(email, roles)
        return await self.login(email)


def _cookie_from(headers: list[str], name: str) -> str:
    for h in headers:
        first = h.split(";", 1)[0]
        key, _, value = first.partition("=")
        if key.strip() == name:
            return value.strip()
    raise AssertionError("no session cookie set")


@pytest.fixture
async def harness(gw_settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    """The gateway under a real uvicorn server in the test's event loop (so tests may also call its
    internals, which share the loop's Redis and database clients)."""
    app = create_app(gw_settings, clock=clock, run_consumers=False)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Harness(app, client, clock, gw_settings, url=url)


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Run `app` under a real uvicorn server on a free loopback port, in this event loop. `sock`: a socket
    bound in advance (`reserve_port`), so nothing else can take the port between choosing and serving."""
    port = sock.getsockname()[1] if sock is not None else (port or free_port())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on",
                            server_header=False,
                            ws="websockets-sansio")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock] if sock is not None else None))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
        raise RuntimeError("server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
