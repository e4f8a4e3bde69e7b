"""The gateway's SQL on both databases (SQLite and PostgreSQL): migrations from scratch, accounts,
vetting, agreements, the code flow with refresh rotation and reuse detection, suspension, inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from redis.asyncio import Redis

from services.gateway.app import create_app
from shared.bus import RedisStreamBus
from shared.events import types as t
from tests.support.gateway import Clock, Harness, insecure_fast_argon2_settings
from tests.support.servers import serve

pytestmark = pytest.mark.integration
REDIRECT = "http://127.0.0.1:9/cb"


@pytest.fixture
async def on_db(db_url: str, redis_url: str, clock: Clock) -> AsyncIterator[Harness]:
    settings = insecure_fast_argon2_settings(db_url, redis_url)
    app = create_app(settings, clock=clock)  # migrates the empty database on start
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Harness(app, client, clock, settings, url=url)


async def test_gateway_sql_on_each_database(on_db: Harness, redis: Redis) -> None:
    h = on_db
    admin = await h.user("admin@example.org", ["admin"])
    mentor = await h.user("mentor@example.org", ["mentor"])
    for item in ("professional_verification", "references", "interview", "background_check"):
        r = await h.client.put(f"/admin/users/{mentor.user_id}/vetting/{item}", headers=admin.headers(),
                               json={"status": "passed"})
        assert r.status_code == 200, r.text
    assert r.json()["vetted"] is True
    agreement = (await h.client.post("/admin/agreements", headers=admin.headers(),
                                     json={"kind": "code_of_practice", "title": "C", "body": "B"})).json()
    assert (await h.client.post(f"/me/agreements/{agreement['id']}/accept", headers=mentor.headers())
            ).json()["accepted_current"] is True
    users = (await h.client.get("/admin/users", params={"role": "mentor"}, headers=admin.headers())).json()
    assert [u["id"] for u in users] == [mentor.user_id]

    client_id, _ = await h.gw.oauth_clients.create(name="app", redirect_uris=[REDIRECT], post_logout_redirect_uris=[],
                                                   grant_types=["authorization_code", "refresh_token"],
                                                   scope=["openid"], confidential=False)
    verifier = "x" * 50
    r = await h.client.get("/oauth/authorize", headers=mentor.headers(csrf=False), params={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"})
    code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
    tokens = (await h.client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                                        "redirect_uri": REDIRECT, "client_id": client_id,
                                                        "code_verifier": verifier})).json()
    refresh = {"grant_type": "refresh_token", "client_id": client_id}
    second = (await h.client.post("/oauth/token", data={**refresh, "refresh_token": tokens["refresh_token"]})).json()
    h.clock.advance(h.settings.refresh_grace_s + 1)
    reuse = await h.client.post("/oauth/token", data={**refresh, "refresh_token": tokens["refresh_token"]})
    assert reuse.json()["error"] == "invalid_grant"
    assert (await h.client.post("/oauth/token", data={**refresh, "refresh_token": second["refresh_token"]})
            ).json()["error"] == "invalid_grant"

    await RedisStreamBus(redis, "sessions").publish(t.PairingProposed(
        pairing_id="p1", mentor_id=mentor.user_id, mentee_id="someone", proposed_by=admin.user_id))
    for _ in range(200):
        items = (await h.client.get("/me/inbox", headers=mentor.headers(csrf=False))).json()["items"]
        if items:
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert items and items[0]["kind"] == "pairing.proposed"

    assert (await h.client.post(f"/admin/users/{mentor.user_id}/suspend", headers=admin.headers())).status_code == 200
    assert (await h.client.get("/me", headers=mentor.headers())).status_code == 401
