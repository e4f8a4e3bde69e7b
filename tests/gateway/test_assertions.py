"""The assertions the proxy forwards (issue #14 item 2): each is minted for one request, bound to its
method ("WS" for a WebSocket handshake) and wire target (path and query), and its service accepts it
once, on any of its instances. A captured one is useless: replayed to the same or to a second instance,
or reused on another path or method, it is refused with 401.

The stack: the gateway, and two instances of a service built on the shared skeleton (one Redis, JWKS
from the gateway), the gateway forwarding to the first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import websockets

from tests.support.assertion_apps import Stack, stack_of
from tests.support.databases import Databases
from tests.support.gateway import Clock

pytestmark = pytest.mark.integration


@pytest.fixture
async def stack(tmp_path: Path, redis_url: str, gateway_db: Callable[..., str], database_url: Databases,
                clock: Clock) -> AsyncIterator[Stack]:
    async with stack_of(tmp_path, redis_url, gateway_db, database_url, clock) as s:
        yield s


async def test_each_proxied_request_carries_an_assertion_bound_to_it(stack: Stack) -> None:
    h = stack.h
    mentor = await h.user("m@example.org", ["mentor"])
    jtis = set()
    for method, target in (("GET", "/things?x=1&y=%2F"), ("POST", "/things"), ("GET", "/things"),
                           ("GET", "/things")):
        headers = mentor.headers(csrf=method == "POST")
        r = await h.client.request(method, "/api/records" + target, headers=headers)
        assert r.status_code == 200, r.text
        claims = stack.claims(stack.seen[-1]["tandem-assertion"])
        assert (claims["htm"], claims["htu"]) == (method, target)
        assert claims["aud"] == "records" and claims["sub"] == mentor.user_id
        assert claims["exp"] - claims["iat"] == h.settings.assertion_lifetime_s
        jtis.add(claims["jti"])
    assert len(jtis) == 4
    ws_url = h.url.replace("http://", "ws://") + "/api/records/ws?room=1"
    async with websockets.connect(ws_url, additional_headers=mentor.headers(csrf=False)) as ws:
        await ws.send("hi")
        assert await ws.recv() == "echo:hi"
    claims = stack.claims(stack.seen[-1]["tandem-assertion"])
    assert (claims["htm"], claims["htu"]) == ("WS", "/ws?room=1")


async def test_a_captured_assertion_is_useless(stack: Stack) -> None:
    h = stack.h
    mentor = await h.user("m@example.org", ["mentor"])
    r = await h.client.get("/api/records/things?page=2", headers=mentor.headers(csrf=False))
    assert r.status_code == 200
    captured = {"tandem-assertion": stack.seen[-1]["tandem-assertion"]}
    async with httpx.AsyncClient(timeout=10) as direct:
        for base in (stack.one, stack.two):  # the same instance, and a second one of the same service
            replay = await direct.get(f"{base}/things?page=2", headers=captured)
            assert replay.status_code == 401, replay.text
        # Reused elsewhere (before it was ever used: each is minted for a fresh request).
        await h.client.get("/api/records/things", headers=mentor.headers(csrf=False))
        unused = {"tandem-assertion": stack.seen[-1]["tandem-assertion"]}
        stack.seen.clear()
        for method, target in (("POST", "/things"), ("GET", "/other"), ("GET", "/things?page=3")):
            r = await direct.request(method, stack.two + target, headers=unused)
            assert r.status_code == 401, (method, target, r.text)
    # The WebSocket handshake's assertion is no good for another handshake.
    ws_url = h.url.replace("http://", "ws://") + "/api/records/ws"
    async with websockets.connect(ws_url, additional_headers=mentor.headers(csrf=False)) as ws:
        await ws.send("x")
        await ws.recv()
    handshake = {"tandem-assertion": stack.seen[-1]["tandem-assertion"]}
    for base in (stack.one, stack.two):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(base.replace("http", "ws") + "/ws", additional_headers=handshake):
                pass
        assert refused.value.response.status_code == 401
    # And the proxy keeps working: every request it forwards has a fresh one.
    for _ in range(3):
        assert (await h.client.get("/api/records/things", headers=mentor.headers(csrf=False))).status_code == 200
    assert json.loads((await h.client.get("/api/records/other", headers=mentor.headers(csrf=False))).text) == {
        "sub": mentor.user_id}


def test_the_compact_signer_makes_the_token_joserfc_makes() -> None:
    """`sign_compact` (the proxy's signer) against joserfc, the verifiers' library: same header, claims
    and a signature it accepts; a changed byte is refused."""
    from joserfc import jwt
    from joserfc.errors import BadSignatureError
    from joserfc.jwk import OKPKey

    from services.gateway.keys.service import SigningKey
    from services.gateway.proxy.assertions import sign_compact

    okp = OKPKey.generate_key("Ed25519", parameters={"kid": "a-test"})
    key = SigningKey(kid="a-test", key=okp, alg="Ed25519", created_at=0, active_from=0, remove_after=None)
    claims = {"iss": "tandem-gateway", "sub": "u1", "aud": "records", "roles": ["mentor"], "iat": 1, "exp": 31,
              "jti": "0123456789abcdef", "htm": "GET", "htu": "/things?q=%C3%A9&x=\u00e9"}
    token = sign_compact(key, claims)
    decoded = jwt.decode(token, okp, algorithms=["Ed25519"])
    assert decoded.claims == claims and decoded.header == {"alg": "Ed25519", "kid": "a-test", "typ": "JWT"}
    head, body, sig = token.split(".")
    tampered = ".".join((head, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1], sig))
    with pytest.raises((BadSignatureError, ValueError)):
        jwt.decode(tampered, okp, algorithms=["Ed25519"])
