"""Each person's time zone: `GET /me` says it (null until set), `PUT /me/time-zone` sets one's own (every
role; IANA names only; a browser session needs its CSRF token; audited with ids only); migration 0004 adds
the column to existing accounts, empty."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.gateway.accounts.tables import users
from services.gateway.accounts.users import time_zones
from services.gateway.app import create_app
from shared import db as dbmod
from shared.events import decode_envelope
from shared.events.types import AuditEntry
from tests.support.databases import Databases
from tests.support.gateway import Harness

pytestmark = pytest.mark.integration

ROLES = ["mentee", "mentor", "admin", "safeguarding", "operator"]


def test_the_machine_knows_the_zones_the_web_app_offers() -> None:
    # System tz data (the container's base image has it) or the tzdata package: without either, every zone
    # would be refused.
    assert {"Europe/London", "America/Toronto", "Asia/Tokyo", "UTC", "Australia/Lord_Howe"} <= time_zones()


async def test_a_person_sets_and_reads_their_own_time_zone(harness: Harness, redis: Redis) -> None:
    h = harness
    mia = await h.user("mia@example.org", ["mentee"])
    me = (await h.client.get("/me", headers=mia.headers())).json()
    assert me["time_zone"] is None
    r = await h.client.put("/me/time-zone", headers=mia.headers(), json={"time_zone": "America/Toronto"})
    assert r.status_code == 200, r.text
    assert r.json() == {"time_zone": "America/Toronto"}
    assert (await h.client.get("/me", headers=mia.headers())).json()["time_zone"] == "America/Toronto"
    r = await h.client.put("/me/time-zone", headers=mia.headers(), json={"time_zone": "Europe/London"})
    assert r.status_code == 200 and r.json() == {"time_zone": "Europe/London"}
    async with h.gw.users.engine.connect() as conn:
        stored = (await conn.execute(sa.select(users.c.time_zone).where(users.c.id == mia.user_id))).scalar_one()
    assert stored == "Europe/London"
    # Nobody else's changed; an admin sees the zone on the person's account.
    max_id = await h.make_user("max@example.org", ["mentor"])
    admin = await h.user("ada@example.org", ["admin"])
    assert (await h.client.get(f"/admin/users/{max_id}", headers=admin.headers())).json()["time_zone"] is None
    shown = (await h.client.get(f"/admin/users/{mia.user_id}", headers=admin.headers())).json()
    assert shown["time_zone"] == "Europe/London"
    # Audited as the person's own act on their account, ids only: the zone itself is not in the ledger.
    entries = [decode_envelope(fields[b"envelope"]).payload(AuditEntry)
               for _id, fields in await redis.xrange("tandem.audit")]
    changes = [e for e in entries if e.action == "user.time_zone_change"]
    assert [(e.actor, e.target, e.outcome, e.reason) for e in changes] == [
        (mia.user_id, f"user:{mia.user_id}", "success", None)] * 2


@pytest.mark.parametrize("body", [
    {"time_zone": "Mars/Olympus_Mons"}, {"time_zone": "europe/london"}, {"time_zone": "GMT+1"},
    {"time_zone": "../../etc/passwd"}, {"time_zone": ""}, {"time_zone": "A" * 65}, {"time_zone": None},
    {"zone": "Europe/London"}, {"time_zone": "Europe/London", "extra": 1}, {},
])
async def test_anything_but_an_iana_zone_is_refused(harness: Harness, body: dict[str, object]) -> None:
    h = harness
    mia = await h.user("mia@example.org", ["mentee"])
    r = await h.client.put("/me/time-zone", headers=mia.headers(), json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if isinstance(body.get("time_zone"), str) and 0 < len(str(body["time_zone"])) <= 64 and len(body) == 1:
        assert r.json()["type"].endswith("invalid-time-zone")
        assert "Europe/London" in r.json()["detail"]
    assert (await h.client.get("/me", headers=mia.headers())).json()["time_zone"] is None


async def test_every_role_sets_its_own_and_nobody_else_can(harness: Harness) -> None:
    h = harness
    zones = {"mentee": "America/Toronto", "mentor": "Europe/London", "admin": "Asia/Tokyo",
             "safeguarding": "Australia/Sydney", "operator": "UTC"}
    signed_in = {role: await h.user(f"{role}@example.org", [role]) for role in ROLES}
    for role in ROLES:
        r = await h.client.put("/me/time-zone", headers=signed_in[role].headers(), json={"time_zone": zones[role]})
        assert r.status_code == 200, (role, r.text)
    for role in ROLES:
        assert (await h.client.get("/me", headers=signed_in[role].headers())).json()["time_zone"] == zones[role]
    # Without credentials: 401. A browser session without its CSRF token: refused, nothing stored.
    assert (await h.client.put("/me/time-zone", json={"time_zone": "UTC"})).status_code == 401
    no_csrf = await h.client.put("/me/time-zone", headers=signed_in["mentee"].headers(csrf=False),
                                 json={"time_zone": "UTC"})
    assert no_csrf.status_code == 403, no_csrf.text
    assert (await h.client.get("/me", headers=signed_in["mentee"].headers())).json()["time_zone"] == "America/Toronto"
    # A service account has no person and so no time zone: 403.
    client_id, secret = await h.gw.oauth_clients.create(name="svc", redirect_uris=[], post_logout_redirect_uris=[],
                                                        grant_types=["client_credentials"], scope=["api"],
                                                        confidential=True)
    token = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(client_id, secret or ""))).json()["access_token"]
    service = await h.client.put("/me/time-zone", headers={"authorization": f"Bearer {token}"},
                                 json={"time_zone": "UTC"})
    assert service.status_code == 403, service.text


async def test_accounts_from_before_the_migration_have_no_zone_yet(database_url: Databases) -> None:
    engine = dbmod.create_engine(database_url("time-zone-migration"))
    migrations = Path(create_app.__code__.co_filename).parent / "migrations"
    try:
        await dbmod.upgrade(engine, migrations, "0003")
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "INSERT INTO users (id, email, display_name, status, vetted, agreements_current, created_at, "
                "updated_at) VALUES (:id, 'a@example.org', 'A', 'active', false, false, :now, :now)"),
                {"id": "a" * 32, "now": now})
        await dbmod.upgrade(engine, migrations)
        async with engine.begin() as conn:
            assert (await conn.execute(sa.select(users.c.time_zone))).scalar_one() is None
            await conn.execute(sa.update(users).values(time_zone="Pacific/Chatham"))
            assert (await conn.execute(sa.select(users.c.time_zone))).scalar_one() == "Pacific/Chatham"
    finally:
        await engine.dispose()
