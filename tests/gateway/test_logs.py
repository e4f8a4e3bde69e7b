"""Passwords, TOTP codes, invitation tokens, authorization codes, tokens, cookies and CSRF tokens never
reach log output, whatever the outcome of the request; and the request log tells the truth about status,
on the gateway and on the service behind it, for refused requests and for a whole call over WebSockets."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import websockets

from tests.support.assertion_apps import json_lines, request_lines, stack_of
from tests.support.databases import Databases
from tests.support.gateway import PASSWORD, Clock, Harness
from tests.support.logs import captured_json_logs

pytestmark = pytest.mark.integration


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    with captured_json_logs("debug") as out:
        yield out


async def test_secrets_never_logged(harness: Harness, log_output: io.StringIO) -> None:
    h = harness
    secrets_seen: list[str] = [PASSWORD]
    user_id, invite, _ = await h.gw.invitations.create_user("test", "admin@example.org", "Admin", ["admin", "mentor"])
    secrets_seen.append(invite)
    await h.client.post("/auth/invitations/accept", json={"token": invite, "password": "too short"})
    r = await h.client.post("/auth/invitations/accept", json={"token": invite, "password": PASSWORD})
    totp_uri = r.json()["totp_uri"]
    secret = parse_qs(urlparse(totp_uri).query)["secret"][0]
    secrets_seen.append(secret)
    confirmed = await h.client.post("/auth/second-factor/confirmation", json={
        "email": "admin@example.org", "password": PASSWORD, "totp_code": h.code_for(secret)})
    secrets_seen += confirmed.json()["codes"]
    await h.client.post("/auth/login", json={"email": "admin@example.org", "password": "wrong-password-123"})
    secrets_seen.append("wrong-password-123")
    h.clock.advance(31)
    import pyotp

    code = pyotp.TOTP(secret).at(int(h.clock()))
    r = await h.client.post("/auth/login", json={"email": "admin@example.org", "password": PASSWORD,
                                                 "totp_code": code})
    assert r.status_code == 200
    cookie = r.cookies.get(h.settings.cookie_name) or r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    csrf = r.json()["csrf_token"]
    secrets_seen += [code, cookie, csrf]
    client_id, _ = await h.gw.oauth_clients.create(name="app", redirect_uris=["http://127.0.0.1:9/cb"],
                                                   post_logout_redirect_uris=[],
                                                   grant_types=["authorization_code", "refresh_token"],
                                                   scope=["openid"], confidential=False)
    verifier = "v" * 43 + "erifier"
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    r = await h.client.get("/oauth/authorize", headers={"cookie": f"{h.settings.cookie_name}={cookie}"},
                           params={"response_type": "code", "client_id": client_id, "state": "st",
                                   "redirect_uri": "http://127.0.0.1:9/cb",
                                   "code_challenge": create_s256_code_challenge(verifier),
                                   "code_challenge_method": "S256"})
    auth_code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
    tokens = (await h.client.post("/oauth/token", data={"grant_type": "authorization_code", "code": auth_code,
                                                        "redirect_uri": "http://127.0.0.1:9/cb",
                                                        "client_id": client_id, "code_verifier": verifier})).json()
    refreshed = (await h.client.post("/oauth/token", data={"grant_type": "refresh_token", "client_id": client_id,
                                                           "refresh_token": tokens["refresh_token"]})).json()
    await h.client.post("/oauth/token", data={"grant_type": "authorization_code", "code": auth_code,
                                              "redirect_uri": "http://127.0.0.1:9/cb", "client_id": client_id,
                                              "code_verifier": verifier})  # replay: logged as an event
    await h.client.get("/me", headers={"authorization": f"Bearer {tokens['access_token']}"})
    await h.client.get("/me", headers={"authorization": "Bearer not.a.token"})
    await h.client.post("/oauth/revoke", data={"token": refreshed["refresh_token"], "client_id": client_id})
    secrets_seen += [verifier, auth_code, tokens["access_token"], tokens["refresh_token"], tokens["id_token"],
                     refreshed["access_token"], refreshed["refresh_token"]]
    output = log_output.getvalue()
    assert '"http.request"' in output and "/oauth/token" in output
    for value in secrets_seen:
        assert value not in output, f"a secret ({len(value)} chars) reached the log"
    assert "admin@example.org" not in output  # e-mail addresses are personal data
    assert user_id  # ids are fine


async def test_statuses_and_close_codes_are_logged_as_the_client_saw_them(
        tmp_path: Path, redis_url: str, gateway_db: Callable[..., str], database_url: Databases, clock: Clock,
        log_output: io.StringIO) -> None:
    async with stack_of(tmp_path, redis_url, gateway_db, database_url, clock) as stack:
        h = stack.h
        mentor = await h.user("m@example.org", ["mentor"])
        ws_url = h.url.replace("http://", "ws://") + "/api/records/ws"
        # A whole call: the client hangs up normally...
        async with websockets.connect(ws_url, additional_headers=mentor.headers(csrf=False)) as ws:
            for i in range(3):
                await ws.send(f"hi{i}")
                assert await ws.recv() == f"echo:hi{i}"
        # ...the service ends one (4000)...
        async with websockets.connect(ws_url, additional_headers=mentor.headers(csrf=False)) as ws:
            await ws.send("close")
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        # ...and the gateway refuses one without credentials.
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url):
                pass
        assert refused.value.response.status_code == 403
        # Refused plain requests: at the gateway, and at the service (a replayed assertion, no assertion).
        assert (await h.client.get("/api/records/things")).status_code == 401
        assert (await h.client.get("/api/records/things", headers=mentor.headers(csrf=False))).status_code == 200
        captured = {"tandem-assertion": stack.seen[-1]["tandem-assertion"]}
        async with httpx.AsyncClient() as direct:
            assert (await direct.get(f"{stack.two}/things", headers=captured)).status_code == 401
            assert (await direct.get(f"{stack.one}/things")).status_code == 401
    gateway_ws = [(r["handshake"], r["status"], r["close_code"]) for r in request_lines(log_output, "/api/records/ws")]
    assert gateway_ws == [("accepted", 101, 1000), ("accepted", 101, 4000), ("rejected", 403, 1008)]
    service_ws = [(r["handshake"], r["status"], r["close_code"]) for r in request_lines(log_output, "/ws")]
    assert service_ws == [("accepted", 101, 1000), ("accepted", 101, 4000)]
    assert [r["status"] for r in request_lines(log_output, "/api/records/things")] == [401, 200]
    assert [r["status"] for r in request_lines(log_output, "/things")] == [200, 401, 401]
    assert not [r for r in json_lines(log_output) if r.get("status") == 500 or r.get("level") == "error"]
