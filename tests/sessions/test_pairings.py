"""Pairings, scheduled sessions and the users projection, through the HTTP API on real DB + Redis."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.sessions.app import create_app
from services.sessions.users.service import apply_user_event
from services.sessions.users.tables import users
from shared.bus import RedisStreamBus
from shared.db import create_engine
from shared.events import decode_envelope, new_envelope
from shared.events import types as t
from tests.support.identity import TestIssuer
from tests.support.sessions import (
    ADMIN,
    MENTEE,
    MENTOR,
    NO_AGREEMENT,
    OPERATOR,
    OTHER_MENTEE,
    OTHER_MENTOR,
    ROLES,
    SAFEGUARD,
    UNVETTED,
    Api,
    publish_users,
    sessions_settings,
    wait_for,
    wait_projected,
)

pytestmark = pytest.mark.integration


async def _events(redis: Redis, stream: str) -> list[str]:
    return [decode_envelope(fields[b"envelope"]).type if b"envelope" in fields else "?"
            for _id, fields in await redis.xrange(stream)]


async def test_full_lifecycle_on_each_database(db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer) -> None:
    await publish_users(redis)
    app = create_app(sessions_settings(db_url, redis_url, issuer))
    async with issuer.bind(AsyncTestClient(app)) as client:
        await wait_projected(app, OTHER_MENTOR, vetted=True)
        api = Api(client, issuer)
        resp = await api.req("POST", "/pairings", ADMIN, json={"mentor_id": MENTOR, "mentee_id": MENTEE})
        assert resp.status_code == 201, resp.text
        p = resp.json()
        assert p["state"] == "proposed" and not p["mentor_accepted"] and not p["mentee_accepted"]
        pid = p["pairing_id"]
        dup = await api.req("POST", "/pairings", ADMIN, json={"mentor_id": MENTOR, "mentee_id": MENTEE})
        assert dup.status_code == 409
        r = await api.req("POST", f"/pairings/{pid}/accept", MENTOR)
        assert r.json()["state"] == "proposed" and r.json()["mentor_accepted"]
        again = await api.req("POST", f"/pairings/{pid}/accept", MENTOR)
        assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
        r = await api.req("POST", f"/pairings/{pid}/accept", MENTEE)
        assert r.json()["state"] == "active"
        assert (await api.req("POST", f"/pairings/{pid}/decline", MENTEE)).status_code == 409
        start = datetime.now(UTC) + timedelta(minutes=5)
        s = await api.req("POST", f"/pairings/{pid}/sessions", MENTEE, json={
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": "CONFIDENTIAL-AGENDA-CANARY"})
        assert s.status_code == 201, s.text
        sid = s.json()["session_id"]
        assert s.json()["agenda"] == "CONFIDENTIAL-AGENDA-CANARY"
        assert (await api.req("GET", f"/sessions/{sid}", MENTOR)).json()["agenda"] == "CONFIDENTIAL-AGENDA-CANARY"
        admin_view = await api.req("GET", f"/sessions/{sid}", ADMIN)
        assert admin_view.status_code == 200 and admin_view.json()["agenda"] is None
        assert (await api.req("POST", f"/sessions/{sid}/cancel", MENTOR)).json()["state"] == "cancelled"
        assert (await api.req("POST", f"/sessions/{sid}/cancel", MENTOR)).status_code == 409
        ended = await api.req("POST", f"/pairings/{pid}/end", MENTEE)
        assert ended.json()["state"] == "ended"
        assert (await api.req("POST", f"/pairings/{pid}/end", MENTOR)).status_code == 409
        late = await api.req("POST", f"/pairings/{pid}/sessions", MENTEE, json={
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()})
        assert late.status_code == 409

        async def published() -> bool:
            return len(await _events(redis, "tandem.pairing")) >= 3 and len(await _events(redis, "tandem.session")) >= 2

        await wait_for(published)
        assert await _events(redis, "tandem.pairing") == ["pairing.proposed", "pairing.activated", "pairing.ended"]
        assert await _events(redis, "tandem.session") == ["session.scheduled", "session.cancelled"]
        raw = b"".join(f[b"envelope"] for _i, f in await redis.xrange("tandem.session"))
        assert b"CANARY" not in raw

        async def audited() -> list[tuple[str, str]]:
            out = []
            for _i, fields in await redis.xrange("tandem.audit"):
                entry = decode_envelope(fields[b"envelope"]).payload(t.AuditEntry)
                out.append((entry.action, entry.actor))
            return out

        async def four() -> bool:
            return len(await audited()) >= 4

        await wait_for(four)
        assert await audited() == [("pairing.propose", ADMIN), ("pairing.accept", MENTOR),
                                   ("pairing.accept", MENTEE), ("pairing.end", MENTEE)]


async def test_mentee_request_and_decline(api: Api) -> None:
    r = await api.req("POST", "/pairings", MENTEE, json={"mentor_id": MENTOR})
    assert r.status_code == 201 and r.json()["mentee_accepted"] and r.json()["mentee_id"] == MENTEE
    pid = r.json()["pairing_id"]
    other = await api.req("POST", "/pairings", MENTEE, json={"mentor_id": OTHER_MENTOR, "mentee_id": OTHER_MENTEE})
    assert other.status_code == 403
    d = await api.req("POST", f"/pairings/{pid}/decline", MENTOR)
    assert d.status_code == 200 and d.json()["state"] == "declined"
    assert (await api.req("POST", f"/pairings/{pid}/accept", MENTEE)).status_code == 409
    # A declined pairing does not block a new request.
    assert (await api.req("POST", "/pairings", MENTEE, json={"mentor_id": MENTOR})).status_code == 201


@pytest.mark.parametrize(("mentor", "mentee", "reason"), [
    (UNVETTED, MENTEE, "mentor-not-vetted"),
    (MENTOR, NO_AGREEMENT, "agreements-not-accepted"),
    (MENTEE, MENTOR, "mentor-unknown"),
    ("nobody", MENTEE, "mentor-unknown"),
    (MENTOR, MENTOR, "same-user"),
])
async def test_ineligible_pairs_are_refused(api: Api, mentor: str, mentee: str, reason: str) -> None:
    r = await api.req("POST", "/pairings", ADMIN, json={"mentor_id": mentor, "mentee_id": mentee})
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == reason


async def test_suspension_and_vetting_withdrawal_block_activation(api: Api, redis: Redis) -> None:
    r = await api.req("POST", "/pairings", ADMIN, json={"mentor_id": MENTOR, "mentee_id": MENTEE})
    pid = r.json()["pairing_id"]
    await api.req("POST", f"/pairings/{pid}/accept", MENTOR)
    bus = RedisStreamBus(redis, "gateway")
    await bus.publish(t.UserSuspended(user_id=MENTEE))
    await wait_projected(api.client.app, MENTEE, suspended=True)
    blocked = await api.req("POST", f"/pairings/{pid}/accept", MENTEE)
    assert blocked.status_code == 422 and "reason" not in blocked.json()  # a member is not told why
    await bus.publish(t.UserReactivated(user_id=MENTEE))
    await bus.publish(t.UserVettingChanged(user_id=MENTOR, vetted=False))
    await wait_projected(api.client.app, MENTOR, vetted=False)
    blocked = await api.req("POST", f"/pairings/{pid}/accept", MENTEE)
    assert blocked.status_code == 422 and "reason" not in blocked.json()
    await bus.publish(t.UserVettingChanged(user_id=MENTOR, vetted=True))
    await wait_projected(api.client.app, MENTOR, vetted=True)
    assert (await api.req("POST", f"/pairings/{pid}/accept", MENTEE)).json()["state"] == "active"


async def test_projection_is_idempotent(api: Api) -> None:
    engine = create_engine(api.client.app.state.settings.database_url)
    env = new_envelope(t.UserRolesChanged(user_id="u-new", roles=["mentor", "mentee"]), source="gateway")
    for _ in range(2):
        async with engine.begin() as conn:
            await apply_user_event(conn, env)
    later = new_envelope(t.UserRolesChanged(user_id="u-new", roles=["mentee"]), source="gateway")
    async with engine.begin() as conn:
        await apply_user_event(conn, later)
    async with engine.begin() as conn:  # a redelivery of the first event must not undo the second
        await apply_user_event(conn, env)
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(users).where(users.c.user_id == "u-new"))).one()
    await engine.dispose()
    assert row.roles == "mentee"


async def test_bad_input_is_problem_json(api: Api) -> None:
    cases: list[tuple[str, str, Any]] = [
        ("POST", "/pairings", {"mentor_id": 5}),
        ("POST", "/pairings", {"mentor_id": MENTOR, "mentee_id": MENTEE, "extra": 1}),
        ("POST", "/pairings", "not json"),
        ("POST", "/pairings", {"mentor_id": "x" * 500, "mentee_id": MENTEE}),
    ]
    for method, path, body in cases:
        r = await api.req(method, path, ADMIN, json=body)
        assert r.status_code in (400, 422), (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    pid = await api.active_pairing()
    start = datetime.now(UTC) + timedelta(minutes=5)
    for body in ({"starts_at": start.isoformat(), "ends_at": start.isoformat()},
                 {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=9)).isoformat()},
                 {"starts_at": "2020-01-01T00:00:00", "ends_at": "2020-01-01T01:00:00"},
                 {"starts_at": "yesterday", "ends_at": 3},
                 {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
                  "agenda": "x" * 5000}):
        r = await api.req("POST", f"/pairings/{pid}/sessions", MENTOR, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "x" * 100 not in r.text
    assert (await api.req("GET", "/pairings?state=bogus", ADMIN)).status_code == 400
    assert (await api.req("GET", "/pairings/nope", ADMIN)).status_code == 404


async def test_agenda_is_never_logged(api: Api, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    pid = await api.active_pairing()
    start = datetime.now(UTC) + timedelta(minutes=5)
    # INFO: aiosqlite logs SQL parameters at DEBUG (shared logging should keep it above DEBUG).
    with caplog.at_level(logging.INFO):
        r = await api.req("POST", f"/pairings/{pid}/sessions", MENTOR, json={
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": "AGENDA-LOG-CANARY"})
        assert r.status_code == 201
        await api.req("GET", f"/sessions/{r.json()['session_id']}", MENTEE)
    out = capsys.readouterr()
    assert "AGENDA-LOG-CANARY" not in caplog.text + out.out + out.err


# -- authorization: every endpoint, every role ---------------------------------------------------------

EVERYONE = [MENTOR, MENTEE, OTHER_MENTOR, OTHER_MENTEE, ADMIN, SAFEGUARD, OPERATOR]


async def test_authorization_matrix(api: Api) -> None:
    pid = await api.active_pairing()
    start = datetime.now(UTC) + timedelta(minutes=5)
    body = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()}
    sid = (await api.req("POST", f"/pairings/{pid}/sessions", MENTOR, json=body)).json()["session_id"]
    proposal = (await api.req("POST", "/pairings", ADMIN,
                              json={"mentor_id": OTHER_MENTOR, "mentee_id": MENTEE})).json()["pairing_id"]
    service = {"x": ["service"]}
    expected: dict[tuple[str, str], dict[str, int]] = {
        ("GET", "/pairings"): {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 200, OTHER_MENTEE: 200, ADMIN: 200,
                               SAFEGUARD: 403, OPERATOR: 403},
        ("GET", f"/pairings/{pid}"): {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 404, OTHER_MENTEE: 404, ADMIN: 200,
                                      SAFEGUARD: 403, OPERATOR: 403},
        ("GET", f"/pairings/{pid}/sessions"): {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 404, OTHER_MENTEE: 404,
                                               ADMIN: 200, SAFEGUARD: 403, OPERATOR: 403},
        ("POST", f"/pairings/{pid}/sessions"): {MENTOR: 201, MENTEE: 201, OTHER_MENTOR: 404, OTHER_MENTEE: 404,
                                                ADMIN: 403, SAFEGUARD: 403, OPERATOR: 403},
        ("GET", f"/sessions/{sid}"): {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 404, OTHER_MENTEE: 404, ADMIN: 200,
                                      SAFEGUARD: 403, OPERATOR: 403},
        ("GET", f"/sessions/{sid}/consent-ledger"): {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 404,
                                                     OTHER_MENTEE: 404, ADMIN: 403, SAFEGUARD: 403, OPERATOR: 403},
        ("POST", f"/pairings/{proposal}/accept"): {MENTOR: 404, MENTEE: 200, OTHER_MENTOR: 200, OTHER_MENTEE: 404,
                                                   ADMIN: 403, SAFEGUARD: 403, OPERATOR: 403},
        ("POST", "/pairings"): {MENTOR: 403, MENTEE: 201, OTHER_MENTOR: 403, OTHER_MENTEE: 201, ADMIN: 201,
                                SAFEGUARD: 403, OPERATOR: 403},
    }
    bodies = {("POST", f"/pairings/{pid}/sessions"): body}
    for (method, path), by_role in expected.items():
        for who in EVERYONE:
            json_body: Any = bodies.get((method, path))
            if path == "/pairings":
                mentor = OTHER_MENTOR if who != OTHER_MENTEE else MENTOR
                json_body = {"mentor_id": mentor, "mentee_id": OTHER_MENTEE} if who == ADMIN else {"mentor_id": mentor}
            r = await api.req(method, path, who, json=json_body)
            if path == "/pairings" and by_role[who] == 201 and r.status_code == 409:
                continue  # allowed, but an open pairing of the same two people already exists
            assert r.status_code == by_role[who], (method, path, who, r.status_code, r.text)
        r = await api.client.request(method, path, headers=api.issuer.headers("svc", service["x"], "sessions"),
                                     json=bodies.get((method, path)))
        assert r.status_code == 403, (method, path, "service")
        r = await api.client.request(method, path, json=bodies.get((method, path)))
        assert r.status_code == 401
    # Decline / end / cancel: members only.
    for action in (f"/pairings/{pid}/end", f"/sessions/{sid}/cancel"):
        for who in (OTHER_MENTOR, OTHER_MENTEE, ADMIN, SAFEGUARD, OPERATOR):
            r = await api.req("POST", action, who)
            assert r.status_code in (403, 404), (action, who, r.status_code)
    for who in (OTHER_MENTEE, ADMIN, SAFEGUARD, OPERATOR):
        r = await api.req("POST", f"/pairings/{proposal}/decline", who)
        assert r.status_code in (403, 404), (who, r.status_code)
    assert (await api.req("POST", f"/sessions/{sid}/cancel", MENTOR)).status_code == 200
    assert (await api.req("POST", f"/pairings/{pid}/end", MENTEE)).status_code == 200
    assert set(ROLES) >= set(EVERYONE)


async def test_a_members_refusal_never_says_why(api: Api, redis: Redis) -> None:
    """A mentee could otherwise learn from the refusal whether any user id is suspended, un-vetted or has
    not accepted the agreements: every reason reads the same to members; admins keep the codes."""
    await RedisStreamBus(redis, "gateway").publish(t.UserSuspended(user_id=OTHER_MENTOR))
    await wait_projected(api.client.app, OTHER_MENTOR, suspended=True)
    refusals = []
    for caller, mentor in ((MENTEE, UNVETTED), (MENTEE, OTHER_MENTOR), (MENTEE, "nobody"), (MENTEE, OTHER_MENTEE),
                           (MENTEE, MENTEE), (NO_AGREEMENT, MENTOR)):
        r = await api.req("POST", "/pairings", caller, json={"mentor_id": mentor})
        assert r.status_code == 422, (caller, mentor, r.text)
        refusals.append(r.json())
    assert all(body == refusals[0] for body in refusals), refusals
    assert refusals[0]["type"].endswith("pairing-not-eligible") and "reason" not in refusals[0]
    admin = await api.req("POST", "/pairings", ADMIN, json={"mentor_id": OTHER_MENTOR, "mentee_id": MENTEE})
    assert admin.status_code == 422 and admin.json()["reason"] == "member-suspended"
