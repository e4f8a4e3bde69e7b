"""The reverse proxy against real internal services on real uvicorn servers: fresh assertions, header
stripping, streaming both ways without buffering, WebSockets, rate limits, security headers, and the
internal services' refusal of anything that bypasses the gateway."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from joserfc import jwt
from joserfc.jwk import OKPKey
from litestar import Request, Response, WebSocket, get, post, websocket
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Stream

from services.gateway.app import create_app
from shared.identity import Identity
from shared.service import build_app
from shared.settings import ServiceSettings
from tests.support.databases import Databases
from tests.support.gateway import Clock, Harness, insecure_fast_argon2_settings
from tests.support.servers import serve

pytestmark = pytest.mark.integration

CHUNK = 64 * 1024


@dataclass
class Upstream:
    """Coordination with the internal test service, which runs in this event loop."""

    first_chunk_in: asyncio.Event = field(default_factory=asyncio.Event)
    first_chunk_out_seen: asyncio.Event = field(default_factory=asyncio.Event)
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    ws_closes: list[tuple[int, str]] = field(default_factory=list)  # (code, reason) the service received


def internal_app(tmp_path: Path, database_url: str, redis_url: str, jwks_url: str, up: Upstream) -> Any:
    """A records-like internal service built on the shared skeleton (assertion wall included)."""

    @get("/echo", sync_to_thread=False)
    def echo(request: Request[Any, Any, Any], identity: NamedDependency[Identity]) -> dict[str, Any]:
        up.seen_headers.append(dict(request.headers))
        return {"sub": identity.sub, "roles": sorted(identity.roles), "sid": identity.sid,
                "query": request.scope["query_string"].decode(), "path": request.scope["path"]}

    @post("/upload", status_code=200)
    async def upload(request: Request[Any, Any, Any], identity: NamedDependency[Identity]) -> dict[str, Any]:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            if chunk:
                up.first_chunk_in.set()
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}

    @get("/download")
    async def download(size: FromQuery[int], identity: NamedDependency[Identity]) -> Stream:
        async def body() -> AsyncIterator[bytes]:
            yield b"a" * CHUNK
            # Only continue once the client got the first chunk: a buffering proxy would hang here.
            await asyncio.wait_for(up.first_chunk_out_seen.wait(), 10)
            sent = CHUNK
            while sent < size:
                n = min(CHUNK, size - sent)
                yield b"a" * n
                sent += n

        return Stream(body(), media_type="application/octet-stream")

    @websocket("/ws")
    async def ws(socket: WebSocket[Any, Any, Any]) -> None:
        identity = socket.scope.get("user")
        await socket.accept()
        await socket.send_text(json.dumps({"sub": getattr(identity, "sub", None)}))
        while True:
            event = await socket.receive()
            if event["type"] == "websocket.disconnect":
                up.ws_closes.append((event["code"], event.get("reason") or ""))
                return
            text = event.get("text") or ""
            if text == "close":
                await socket.close(code=4000, reason="bye")
                return
            await socket.send_text(f"echo:{text}")

    @get("/teapot", sync_to_thread=False)
    def teapot(identity: NamedDependency[Identity]) -> Response[dict[str, str]]:
        return Response({"short": "and stout"}, status_code=418, headers={"set-cookie": "evil=1", "x-custom": "y"})

    @get("/empty", sync_to_thread=False)
    def empty(identity: NamedDependency[Identity], status: FromQuery[int] = 200) -> Response[bytes]:
        return Response(b"", status_code=status, media_type="application/octet-stream")

    settings = ServiceSettings(database_url=database_url, redis_url=redis_url,
                               jwks_url=jwks_url, migrate_on_start=False)
    return build_app(name="records", settings=settings,
                     route_handlers=[echo, upload, download, ws, teapot, empty],
                     migrations_dir=tmp_path)


@dataclass
class Stack:
    h: Harness
    records: str  # internal service base URL (direct)
    sessions: str
    up: Upstream


@pytest.fixture
async def stack(tmp_path: Path, redis_url: str, gateway_db: Callable[..., str], database_url: Databases,
                clock: Clock) -> AsyncIterator[Stack]:
    from deploy.local.children import free_port

    gw_port, rec_port, ses_port = free_port(), free_port(), free_port()
    gw_url = f"http://127.0.0.1:{gw_port}"
    jwks = f"{gw_url}/internal/assertion-jwks"
    settings = insecure_fast_argon2_settings(
        gateway_db(), redis_url, records_url=f"http://127.0.0.1:{rec_port}", sessions_url=f"http://127.0.0.1:{ses_port}",
        reports_url="http://127.0.0.1:9", issuer=gw_url, rate_limit_per_identity=40, rate_limit_per_ip=60)
    up = Upstream()
    gateway = create_app(settings, clock=clock, run_consumers=False)
    # A second internal service: the bare shared skeleton every service is built on (probes, /whoami and the
    # assertion wall), named "sessions" (the real sessions app has its own tests and moves fast).
    ses = build_app(name="sessions", settings=ServiceSettings(
        database_url=database_url("sessions"), redis_url=redis_url, jwks_url=jwks,
        migrate_on_start=False), route_handlers=[], migrations_dir=tmp_path)
    internal = internal_app(tmp_path, database_url("internal"), redis_url, jwks, up)
    async with serve(gateway, gw_port), serve(internal, rec_port), \
            serve(ses, ses_port), httpx.AsyncClient(base_url=gw_url, timeout=30) as client:
        yield Stack(Harness(gateway, client, clock, settings, url=gw_url), f"http://127.0.0.1:{rec_port}",
                    f"http://127.0.0.1:{ses_port}", up)


async def test_fresh_assertion_replaces_forged_identity(stack: Stack) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee", "mentor"])
    forged = {"tandem-assertion": "forged", "x-user-id": "admin", "x-user-roles": "admin", "x-roles": "admin",
              "x-request-id": "req-42"}
    r = await h.client.get("/api/records/echo?a=1&b=%2F", headers={**mentee.headers(csrf=False), **forged})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == {"sub": mentee.user_id, "roles": ["mentee", "mentor"], "sid": body["sid"], "query": "a=1&b=%2F",
                    "path": "/echo"}
    assert body["sid"]
    seen = stack.up.seen_headers[-1]
    assert "cookie" not in seen and "x-user-id" not in seen and "x-roles" not in seen
    assert seen["tandem-assertion"] != "forged" and seen["x-request-id"] == "req-42"
    assert r.headers["x-request-id"] == "req-42"
    claims = jwt.decode(seen["tandem-assertion"], OKPKey.import_key(h.gw.keys.assertion.jwks()["keys"][-1]),
                        algorithms=["Ed25519"]).claims
    assert claims["aud"] == "records" and claims["iss"] == "tandem-gateway"
    assert claims["exp"] - claims["iat"] == h.settings.assertion_lifetime_s and claims["jti"]
    # Another service verifies it the same way.
    who = await h.client.get("/api/sessions/whoami", headers=mentee.headers(csrf=False))
    assert who.status_code == 200 and who.json()["sub"] == mentee.user_id


async def test_internal_services_reject_requests_that_bypass_the_gateway(stack: Stack) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    async with httpx.AsyncClient(timeout=10) as direct:
        for base, path in ((stack.records, "/echo"), (stack.sessions, "/whoami")):
            assert (await direct.get(base + path)).status_code == 401
            assert (await direct.get(base + path, headers=mentee.headers())).status_code == 401
            assert (await direct.get(base + path, headers={"x-user-id": mentee.user_id})).status_code == 401
            attacker = OKPKey.generate_key("Ed25519", parameters={"kid": h.gw.keys.assertion.current().kid})
            now = int(time.time())
            claims = {"iss": "tandem-gateway", "sub": "x", "aud": (base == stack.records and "records") or "sessions",
                      "roles": ["admin"], "iat": now, "exp": now + 30, "jti": "j" * 16, "htm": "GET", "htu": path}
            forged = jwt.encode({"alg": "Ed25519", "kid": attacker.kid}, claims, attacker, algorithms=["Ed25519"])
            assert (await direct.get(base + path, headers={"tandem-assertion": forged})).status_code == 401
            expired = h.gw.keys.assertion.sign({**claims, "iat": now - 600, "exp": now - 570})
            assert (await direct.get(base + path, headers={"tandem-assertion": expired})).status_code == 401
            other_aud = h.gw.keys.assertion.sign({**claims, "aud": "reports"})
            assert (await direct.get(base + path, headers={"tandem-assertion": other_aud})).status_code == 401
            good = h.gw.keys.assertion.sign(claims)
            assert (await direct.get(base + path, headers={"tandem-assertion": good})).status_code == 200


async def test_authentication_csrf_and_bearer_on_the_proxy(stack: Stack) -> None:
    h = stack.h
    anon = await h.client.get("/api/records/echo")
    assert anon.status_code == 401 and anon.headers["content-type"].startswith("application/problem+json")
    mentee = await h.user("m@example.org", ["mentee"])
    no_csrf = await h.client.post("/api/records/upload", content=b"x", headers=mentee.headers(csrf=False))
    assert no_csrf.status_code == 403
    ok = await h.client.post("/api/records/upload", content=b"x", headers=mentee.headers())
    assert ok.status_code == 200 and ok.json()["size"] == 1
    # Service accounts (e.g. the sessions recorder) use client credentials and a bearer token: no CSRF.
    client_id, secret = await h.gw.oauth_clients.create(name="recorder", redirect_uris=[], post_logout_redirect_uris=[],
                                                        grant_types=["client_credentials"], scope=["api"],
                                                        confidential=True)
    tok = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(client_id, secret or ""))).json()["access_token"]
    r = await h.client.get("/api/records/echo", headers={"authorization": f"Bearer {tok}"})
    assert r.json()["sub"] == f"service:{client_id}" and r.json()["roles"] == ["service"]
    assert "authorization" not in stack.up.seen_headers[-1]  # the bearer token stays at the gateway
    assert (await h.client.get("/api/records/echo", headers={"authorization": "Bearer bogus"})).status_code == 401
    narrow_id, narrow_secret = await h.gw.oauth_clients.create(
        name="reader", redirect_uris=[], post_logout_redirect_uris=[], grant_types=["client_credentials"],
        scope=["api", "profile"], confidential=True)
    narrow = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "profile"},
                                  auth=(narrow_id, narrow_secret or ""))).json()["access_token"]
    r = await h.client.get("/api/records/echo", headers={"authorization": f"Bearer {narrow}"})
    assert r.status_code == 403 and "insufficient_scope" in r.headers["www-authenticate"]


async def test_streams_both_ways_without_buffering(stack: Stack) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    size = 8 * 1024 * 1024
    digest = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        first = b"\x01" * CHUNK
        digest.update(first)
        yield first
        # The rest is sent only after the service has received the first chunk.
        await asyncio.wait_for(stack.up.first_chunk_in.wait(), 10)
        for i in range(1, size // CHUNK):
            chunk = bytes([i % 251]) * CHUNK
            digest.update(chunk)
            yield chunk

    r = await h.client.post("/api/records/upload", content=body(), headers=mentee.headers())
    assert r.status_code == 200 and r.json() == {"size": size, "sha256": digest.hexdigest()}
    received = 0
    async with h.client.stream("GET", "/api/records/download", params={"size": size},
                               headers=mentee.headers(csrf=False)) as resp:
        assert resp.status_code == 200
        async for chunk in resp.aiter_raw():
            received += len(chunk)
            stack.up.first_chunk_out_seen.set()
    assert received == size


async def test_upstream_headers_filtered_and_security_headers_added(stack: Stack) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    r = await h.client.get("/api/records/teapot", headers=mentee.headers(csrf=False))
    assert r.status_code == 418 and r.headers["x-custom"] == "y" and "set-cookie" not in r.headers
    down = await h.client.get("/api/reports/anything", headers=mentee.headers(csrf=False))
    for resp in (r, down, await h.client.get("/nowhere"), await h.client.get("/api/records/echo"),
                 await h.client.get("/.well-known/openid-configuration")):
        assert len(resp.headers.get_list("content-security-policy")) == 1
        assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
        assert resp.headers["strict-transport-security"].startswith("max-age=")
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert resp.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    await h.client.get("/api/records/echo", headers=mentee.headers(csrf=False))
    assert "cookie" not in stack.up.seen_headers[-1]  # the upstream Set-Cookie was not kept by the proxy
    assert (await h.client.get("/api/records/%2e%2e/echo", headers=mentee.headers(csrf=False))).status_code == 400
    assert (await h.client.get("/api/unknown/x", headers=mentee.headers(csrf=False))).status_code == 404
    # A service that is down is an outage like any other: 503 with Retry-After.
    assert down.status_code == 503 and down.headers["content-type"].startswith("application/problem+json")
    assert int(down.headers["retry-after"]) > 0


async def test_rate_limits_per_identity(stack: Stack) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    statuses = [(await h.client.get("/api/records/echo", headers=mentee.headers(csrf=False))).status_code
                for _ in range(h.settings.rate_limit_per_identity + 1)]
    assert statuses[:-1] == [200] * h.settings.rate_limit_per_identity and statuses[-1] == 429
    r = await h.client.get("/api/records/echo", headers=mentee.headers(csrf=False))
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= h.settings.rate_limit_window_s
    # The next window starts afresh (checked on the limiter: moving the gateway clock a minute ahead would
    # also make its assertions look forged to the internal service, which uses the real clock).
    h.clock.advance(h.settings.rate_limit_window_s)
    await h.gw.limiter.hit((f"id:{mentee.user_id}", h.settings.rate_limit_per_identity))


async def test_websocket_relay(stack: Stack) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    ws_url = h.url.replace("http://", "ws://") + "/api/records/ws"
    async with websockets.connect(ws_url, additional_headers={**mentee.headers(csrf=False), "origin": h.url}) as ws:
        assert json.loads(await ws.recv()) == {"sub": mentee.user_id}
        for i in range(3):
            await ws.send(f"hi{i}")
            assert await ws.recv() == f"echo:hi{i}"
        await ws.send("close")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
    for headers in ({}, {**mentee.headers(csrf=False), "origin": "https://evil.example"}):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403


async def test_assertion_key_rotation_reaches_internal_services(stack: Stack) -> None:
    """Internal services cache the JWKS (5 min) and refetch on an unknown kid at most once a second (a
    request waits for that fetch); a new key is published GATEWAY_KEY_PUBLISH_AHEAD_S (default 10 min)
    before it signs, so normally they have it already. Here the service has not fetched yet, so it sees
    both keys at once."""
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    now = int(h.clock())
    old_kid = h.gw.keys.assertion.current().kid
    old = h.gw.keys.assertion.sign({"iss": "tandem-gateway", "sub": mentee.user_id, "aud": "records",
                                    "roles": ["mentee"], "iat": now, "exp": now + 30, "jti": "j" * 16,
                                    "htm": "GET", "htu": "/echo"})
    new_kid = await h.gw.keys.assertion.rotate(publish_ahead_s=0)
    assert new_kid != old_kid
    assert (await h.client.get("/api/records/echo", headers=mentee.headers(csrf=False))).status_code == 200
    new = stack.up.seen_headers[-1]["tandem-assertion"]
    assert jwt.decode(new, OKPKey.import_key(next(k for k in h.gw.keys.assertion.jwks()["keys"]
                                                  if k["kid"] == new_kid)), algorithms=["Ed25519"])
    async with httpx.AsyncClient(timeout=10) as direct:
        # The old key stays published while its assertions can still be valid.
        assert (await direct.get(stack.records + "/echo", headers={"tandem-assertion": old})).status_code == 200
    assert old_kid in {k["kid"] for k in h.gw.keys.assertion.jwks()["keys"]}
    h.clock.advance(h.settings.assertion_lifetime_s + 70)
    assert old_kid not in {k["kid"] for k in h.gw.keys.assertion.jwks()["keys"]}


async def test_live_websockets_close_on_logout_and_suspension(stack: Stack) -> None:
    h = stack.h
    admin = await h.user("admin@example.org", ["admin"])
    mentee = await h.user("m@example.org", ["mentee"])
    other_tab = await h.login("m@example.org")
    ws_url = h.url.replace("http://", "ws://") + "/api/records/ws"

    async def closed_with(ws: websockets.ClientConnection) -> int:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        return closed.value.rcvd.code if closed.value.rcvd else -1

    async with websockets.connect(ws_url, additional_headers=mentee.headers(csrf=False)) as first, \
            websockets.connect(ws_url, additional_headers=other_tab.headers(csrf=False)) as second:
        await first.recv(), await second.recv()
        assert (await h.client.post("/auth/logout", headers=mentee.headers())).status_code == 200
        assert await closed_with(first) == 1008  # this browser session's socket ends...
        await second.send("still here")
        assert await second.recv() == "echo:still here"  # ...the other session's socket does not
        r = await h.client.post(f"/admin/users/{mentee.user_id}/suspend", headers=admin.headers())
        assert r.status_code == 200
        assert await closed_with(second) == 1008  # suspension ends every socket of the user
    # The service is told each cut as 4401 with its cause (sessions ends the call and ledgers the cause,
    # without waiting for the `user.suspended` event, which may come later).
    for _ in range(100):
        if len(stack.up.ws_closes) == 2:
            break
        await asyncio.sleep(0.05)
    assert stack.up.ws_closes == [(4401, "revoked"), (4401, "suspended")]


async def test_unexpected_failure_in_the_proxy_is_a_plain_500(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    canary = "canary-5ecret-in-an-exception"
    fast = h.gw.auth

    async def broken(*_args: Any) -> Any:
        raise RuntimeError(canary)

    original = fast.caller
    fast.caller = broken
    try:
        r = await h.client.get("/api/records/echo", headers={**mentee.headers(csrf=False), "x-request-id": "req-500"})
    finally:
        fast.caller = original
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert canary not in r.text and r.json()["detail"] == "An unexpected error occurred. It has been logged."
    assert r.headers["x-request-id"] == "req-500" and "content-security-policy" in r.headers
    assert canary not in caplog.text
    # The proxy keeps working afterwards.
    assert (await h.client.get("/api/records/echo", headers=mentee.headers(csrf=False))).status_code == 200


async def test_empty_bodies_complete_and_keep_the_connection(stack: Stack) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    for _ in range(3):  # the upstream connection goes back to the pool each time
        for status in (200, 204):
            r = await h.client.get(f"/api/records/empty?status={status}", headers=mentee.headers(csrf=False))
            assert r.status_code == status and r.content == b""
    assert sum(len(idle) for idle in h.gw.upstream._idle.values()) >= 1


async def test_remembered_sign_ins_follow_every_change_on_this_instance(stack: Stack) -> None:
    """The proxy answers repeated credentials from memory; changes must show on the very next request."""
    h = stack.h
    admin = await h.user("admin@example.org", ["admin"])
    mentee = await h.user("m@example.org", ["mentee"])
    assert h.gw.auth.cache.ttl_s > 0

    async def whoami(browser: Any) -> httpx.Response:
        return await h.client.get("/api/sessions/whoami", headers=browser.headers(csrf=False))

    assert (await whoami(mentee)).json()["roles"] == ["mentee"]
    assert (await whoami(mentee)).json()["roles"] == ["mentee"]  # remembered
    r = await h.client.put(f"/admin/users/{mentee.user_id}/roles", json={"roles": ["mentee", "mentor"]},
                           headers=admin.headers())
    assert r.status_code == 200
    assert (await whoami(mentee)).json()["roles"] == ["mentee", "mentor"]
    # CSRF is checked on every request, remembered or not.
    assert (await h.client.post("/api/records/upload", content=b"x", headers=mentee.headers(csrf=False))
            ).status_code == 403
    assert (await h.client.post("/auth/logout", headers=mentee.headers())).status_code == 200
    assert (await whoami(mentee)).status_code == 401
    # A bearer token revoked (RFC 7009) stops at once too.
    client_id, secret = await h.gw.oauth_clients.create(name="svc", redirect_uris=[], post_logout_redirect_uris=[],
                                                        grant_types=["client_credentials"], scope=["api"],
                                                        confidential=True)
    tok = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(client_id, secret or ""))).json()["access_token"]
    bearer = {"authorization": f"Bearer {tok}"}
    assert (await h.client.get("/api/sessions/whoami", headers=bearer)).status_code == 200
    assert (await h.client.get("/api/sessions/whoami", headers=bearer)).status_code == 200
    assert (await h.client.post("/oauth/revoke", data={"token": tok},
                                auth=(client_id, secret or ""))).status_code == 200
    assert (await h.client.get("/api/sessions/whoami", headers=bearer)).status_code == 401


async def test_changes_reach_other_gateway_instances_over_pub_sub(stack: Stack) -> None:
    """A second gateway instance (same database and Redis) that remembers for 30 s still refuses a suspended
    user within moments: only the announcement can explain that, not the memory running out."""
    from deploy.local.children import free_port

    h = stack.h
    admin = await h.user("admin@example.org", ["admin"])
    mentee = await h.user("m@example.org", ["mentee"])
    port = free_port()
    other = create_app(dataclasses.replace(h.settings, port=port, auth_cache_s=30.0), clock=h.clock,
                       run_consumers=False)
    async with serve(other, port), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for _ in range(2):
            r = await client.get("/api/sessions/whoami", headers=mentee.headers(csrf=False))
            assert r.status_code == 200
        assert other.state.context.auth.cache._entries, "nothing remembered"
        assert (await h.client.post(f"/admin/users/{mentee.user_id}/suspend", headers=admin.headers())
                ).status_code == 200
        deadline = asyncio.get_running_loop().time() + 5
        while (status := (await client.get("/api/sessions/whoami", headers=mentee.headers(csrf=False))
                          ).status_code) == 200 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert status == 401
