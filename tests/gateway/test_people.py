"""`GET /me/people`: display names only for people the caller may know, for every role.

Pairing membership reaches the gateway as `tandem.pairing` events (the inbox consumer's projection),
so these tests publish real events and wait for the consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.gateway.accounts.tables import users
from services.gateway.app import create_app
from services.gateway.config import Settings
from shared.bus import RedisStreamBus
from shared.events import types as t
from tests.support.gateway import Browser, Clock, Harness
from tests.support.servers import serve

pytestmark = pytest.mark.integration


@pytest.fixture
async def live(gw_settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    app = create_app(gw_settings, clock=clock)  # with the consumer that projects pairing membership
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Harness(app, client, clock, gw_settings, url=url)


async def _people(h: Harness, who: Browser | dict[str, str] | None, *ids: str) -> httpx.Response:
    headers = who.headers(csrf=False) if isinstance(who, Browser) else (who or {})
    resp: httpx.Response = await h.client.get("/me/people", params=[("id", i) for i in ids], headers=headers)
    return resp


def _names(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 200, resp.text
    return {p["id"]: p["display_name"] for p in resp.json()["people"]}


async def test_each_role_names_only_the_people_it_may_know(live: Harness, redis: Redis) -> None:
    h = live
    mentor = await h.user("mentor@example.org", ["mentor"])
    mentee = await h.user("mentee@example.org", ["mentee"])
    stranger = await h.user("stranger@example.org", ["mentee"])
    ended = await h.user("former@example.org", ["mentor"])
    admin = await h.user("admin@example.org", ["admin"])
    officer = await h.user("officer@example.org", ["safeguarding"])
    operator = await h.user("operator@example.org", ["operator"])
    bus = RedisStreamBus(redis, "sessions")
    await bus.publish(t.PairingProposed(pairing_id="p1", mentor_id=mentor.user_id, mentee_id=mentee.user_id,
                                        proposed_by=admin.user_id))
    await bus.publish(t.PairingEnded(pairing_id="p0", mentor_id=ended.user_id, mentee_id=mentee.user_id,
                                     ended_at=datetime.now(UTC)))
    everyone = [mentor.user_id, mentee.user_id, stranger.user_id, ended.user_id, admin.user_id]
    for _ in range(200):  # the consumer projects membership a moment after the events
        if len(_names(await _people(h, mentee))) == 2:
            break
        await asyncio.sleep(0.05)

    # A mentee names the people they are or were paired with: nobody else, whatever they ask for.
    assert _names(await _people(h, mentee)) == {mentor.user_id: "mentor", ended.user_id: "former"}
    assert _names(await _people(h, mentee, *everyone)) == {mentor.user_id: "mentor", ended.user_id: "former"}
    assert _names(await _people(h, mentee, stranger.user_id, admin.user_id)) == {}
    # The mentor of p1 names the mentee only (not the mentee's former mentor).
    assert _names(await _people(h, mentor, *everyone)) == {mentee.user_id: "mentee"}
    assert _names(await _people(h, stranger, *everyone)) == {}
    # Operators run the platform; they have no business with people's names.
    assert _names(await _people(h, operator, *everyone)) == {}

    # Admins and safeguarding officers name anyone they ask for; unknown ids are left out.
    for staff in (admin, officer):
        named = _names(await _people(h, staff, *everyone, "0123456789abcdef0123456789abcdef"))
        assert named == {mentor.user_id: "mentor", mentee.user_id: "mentee", stranger.user_id: "stranger",
                         ended.user_id: "former", admin.user_id: "admin"}
        assert _names(await _people(h, staff)) == {}, "without ids: only one's own pairings"

    # Names only: no e-mail address, role or status leaks through.
    body = (await _people(h, admin, mentee.user_id)).json()
    assert body == {"people": [{"id": mentee.user_id, "display_name": "mentee"}]}


async def test_callers_and_bad_input(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    resp = await _people(h, None)
    assert resp.status_code == 401 and resp.headers["content-type"].startswith("application/problem+json")
    client_id, secret = await h.gw.oauth_clients.create(name="svc", redirect_uris=[], post_logout_redirect_uris=[],
                                                        grant_types=["client_credentials"], scope=["api"],
                                                        confidential=True)
    token = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(client_id, secret or ""))).json()["access_token"]
    service = await _people(h, {"authorization": f"Bearer {token}"}, admin.user_id)
    assert service.status_code == 403, "service accounts have no people"
    too_many = await _people(h, admin, *[f"u{i}" for i in range(101)])
    assert too_many.status_code == 400 and too_many.headers["content-type"].startswith("application/problem+json")
    bad = await _people(h, admin, "not an id!")
    assert bad.status_code == 400
    schema = (await h.client.get("/schema/openapi.json")).json()
    op = schema["paths"]["/me/people"]["get"]
    assert [p["name"] for p in op["parameters"]] == ["id"]
    assert "200" in op["responses"]


async def test_a_mentee_names_the_programmes_vetted_mentors_they_may_choose(harness: Harness) -> None:
    """Mentees browse mentors' biographies to state preferences (issue 17): they may name the programme's
    active, vetted mentors, and no one else beyond their partners; mentors never name other mentors."""
    h = harness
    offered = await h.user("offered@example.org", ["mentor"])
    unvetted = await h.user("unvetted@example.org", ["mentor"])
    suspended = await h.user("suspended@example.org", ["mentor"])
    other_mentee = await h.user("other@example.org", ["mentee"])
    mentee = await h.user("mentee@example.org", ["mentee"])
    mentor = await h.user("mentor@example.org", ["mentor"])
    async with h.gw.users.engine.begin() as conn:
        await conn.execute(sa.update(users).where(users.c.id.in_([offered.user_id, suspended.user_id]))
                           .values(vetted=True))
        await conn.execute(sa.update(users).where(users.c.id == suspended.user_id).values(status="suspended"))
    asked = [offered.user_id, unvetted.user_id, suspended.user_id, other_mentee.user_id]
    assert _names(await _people(h, mentee, *asked)) == {offered.user_id: "offered"}
    assert _names(await _people(h, mentee)) == {}, "without ids: only one's own pairings"
    assert _names(await _people(h, mentor, *asked)) == {}
