"""Sessions test helpers: the cast and their roles, settings, users seeded through the real bus (and waiting
for the projection), a handle to call the app as one of the cast; scheduling a meeting and reading
the meetings table as stored (sealed agendas)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.sessions.config import Settings
from services.sessions.meetings.tables import meetings
from services.sessions.users.tables import users
from shared.bus import RedisStreamBus
from shared.db import create_engine
from shared.events import types as t
from tests.support.identity import TestIssuer

MENTOR, MENTEE, OTHER_MENTOR, OTHER_MENTEE, ADMIN = "u-mentor", "u-mentee", "u-mentor2", "u-mentee2", "u-admin"
UNVETTED, NO_AGREEMENT, SAFEGUARD, OPERATOR = "u-unvetted", "u-noagree", "u-safe", "u-operator"

ROLES: dict[str, list[str]] = {
    MENTOR: ["mentor"], MENTEE: ["mentee"], OTHER_MENTOR: ["mentor"], OTHER_MENTEE: ["mentee"], ADMIN: ["admin"],
    UNVETTED: ["mentor"], NO_AGREEMENT: ["mentee"], SAFEGUARD: ["safeguarding"], OPERATOR: ["operator"],
}


# Why the slow media tests run in the SQLite pass only (`sqlite_pass_only`, tests/conftest.py).
MEDIA_ONLY = ("slow WebRTC media test: capture and WebM checks do not depend on the database; records' SQL "
              "on PostgreSQL is covered by tests/records")


def sessions_settings(db_url: str, redis_url: str, issuer: TestIssuer, **kw: Any) -> Settings:
    # Its own keyring (sealed agendas) per settings, never the repository's var/: instances built from
    # the same settings share it, as instances of one deployment do.
    kw.setdefault("keyring_path", str(Path(tempfile.mkdtemp(prefix="tandem-sessions-keys-")) / "keyring.json"))
    return Settings(database_url=db_url, redis_url=redis_url, jwks_file=str(issuer.jwks_path), log_json=True,
                    bus_claim_idle_ms=1000, **kw)


async def publish_users(redis: Redis) -> None:
    """The gateway's side of the projection: the events it publishes for our cast."""
    bus = RedisStreamBus(redis, "gateway")
    for uid, roles in ROLES.items():
        await bus.publish(t.UserCreated(user_id=uid, roles=roles))
        if uid != NO_AGREEMENT:
            await bus.publish(t.UserAgreementsChanged(user_id=uid, accepted_current=True))
    for uid in (MENTOR, OTHER_MENTOR):
        await bus.publish(t.UserVettingChanged(user_id=uid, vetted=True))


async def wait_for(cond: Callable[[], Any], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def wait_projected(app: Litestar, user_id: str, **expected: Any) -> None:
    # The test client runs the app on its own event loop: use a separate engine on ours.
    engine = create_engine(app.state.settings.database_url)

    async def ok() -> bool:
        async with engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.user_id == user_id))).first()
        return row is not None and all(getattr(row, k) == v for k, v in expected.items())

    try:
        await wait_for(ok)
    finally:
        await engine.dispose()


@dataclass
class Api:
    client: AsyncTestClient[Litestar]
    issuer: TestIssuer

    def __post_init__(self) -> None:
        self.issuer.bind(self.client)  # each request's assertion bound to it, as the gateway mints them

    def h(self, sub: str) -> dict[str, str]:
        return self.issuer.headers(sub, ROLES[sub], "sessions")

    async def req(self, method: str, path: str, sub: str, **kw: Any) -> Any:
        return await self.client.request(method, path, headers=self.h(sub), **kw)

    async def active_pairing(self, mentor: str = MENTOR, mentee: str = MENTEE) -> str:
        resp = await self.req("POST", "/pairings", ADMIN, json={"mentor_id": mentor, "mentee_id": mentee})
        assert resp.status_code == 201, resp.text
        pid = resp.json()["pairing_id"]
        for who in (mentor, mentee):
            r = await self.req("POST", f"/pairings/{pid}/accept", who)
            assert r.status_code == 200, r.text
        return str(pid)


async def schedule(api: Api, pid: str, who: str, agenda: str | None) -> str:
    start = datetime.now(UTC) + timedelta(minutes=5)
    r = await api.req("POST", f"/pairings/{pid}/sessions", who, json={
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": agenda})
    assert r.status_code == 201, r.text
    assert r.json()["agenda"] == agenda
    return str(r.json()["session_id"])


async def rows(settings: Settings) -> dict[str, Any]:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return {r.session_id: r for r in (await conn.execute(sa.select(meetings))).all()}
    finally:
        await engine.dispose()


def shredded(row: Any) -> bool:
    return row.agenda_kek_version is None and row.agenda_wrapped_dek is None and row.agenda_sealed is None
