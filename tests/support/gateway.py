"""Gateway test helpers: a controllable clock, fast-but-insecure argon2 settings, the harness around a
running gateway and its sign-in helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
from litestar import Litestar

from services.gateway.config import Settings
from services.gateway.context import GatewayContext

PASSWORD = "correct horse battery staple"


class Clock:
    """Starts at the real time (Redis TTLs stay sensible) and moves only when told."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def previous_step_code(secret: str) -> str:
    """For confirming an enrolment against a live server (real clock): the previous time step's code
    (accepted: one step of drift), so the current code stays free for the sign-in that follows. Never within
    a second of a step boundary, so the server sees the same step as we do."""
    while time.time() % 30 > 29:
        time.sleep(0.2)
    return pyotp.TOTP(secret).at(int(time.time()) - 30)


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
    def gw(self) -> GatewayContext:
        return self.app.state.context  # type: ignore[no-any-return]

    async def make_user(self, email: str, roles: list[str], password: str = PASSWORD) -> str:
        user_id, token, _ = await self.gw.invitations.create_user("test", email, email.split("@")[0], roles)
        r = await self.client.post("/auth/invitations/accept", json={"token": token, "password": password})
        assert r.status_code == 200, r.text
        uri = r.json()["totp_uri"]
        if uri:
            self.totp[email] = parse_qs(urlparse(uri).query)["secret"][0]
            await self.confirm_totp(email, password)
        self.users[email] = user_id
        return user_id

    async def confirm_totp(self, email: str, password: str = PASSWORD) -> list[str]:
        """Finish authenticator enrolment with a code; the recovery codes it answers. The code is the previous
        time step's (accepted: one step of drift), so the next sign-in can use the current one without moving
        the clock (services behind the proxy check assertion times against the real clock)."""
        previous = int(self.clock()) - 30
        code = pyotp.TOTP(self.totp[email]).at(previous)
        r = await self.client.post("/auth/second-factor/confirmation",
                                   json={"email": email, "password": password, "totp_code": code})
        assert r.status_code == 200, r.text
        self.totp_steps[email] = previous // 30  # that step is spent: sign-in uses a later one
        codes: list[str] = r.json()["codes"]
        return codes

    def code(self, email: str) -> str:
        return self.code_for(self.totp[email])

    def code_for(self, secret: str) -> str:
        return pyotp.TOTP(secret).at(int(self.clock()))

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
