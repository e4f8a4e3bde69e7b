"""Assertion verification against a JWKS served over real HTTP, including key rotation, and the binding
and single use of each assertion (a real Redis)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, OKPKey
from redis.asyncio import Redis

from shared.identity import (
    AssertionVerifier,
    HttpJwks,
    Identity,
    InvalidAssertion,
    RedisReplayGuard,
)
from tests.support.identity import TestIssuer


async def check(verifier: AssertionVerifier, token: str, method: str = "GET", target: str = "/x") -> Identity:
    return await verifier.verify(token, method=method, target=target)


class JwksServer:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/internal/assertion-jwks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


async def test_rotation_is_picked_up_on_unknown_kid(jwks_server: JwksServer, tmp_path: Any, redis: Redis) -> None:
    old = TestIssuer.create(tmp_path / "a.json", kid="key-2026-01")
    jwks_server.keys = [old.key.as_dict(private=False)]
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks(jwks_server.url, client, min_refresh_s=0), audience="records",
                                     issuer="tandem-gateway", replay=RedisReplayGuard(redis))
        ident = await check(verifier, old.token("u1", ["mentor"], "records", method="GET", target="/x"))
        assert ident.sub == "u1" and ident.roles == frozenset({"mentor"})
        assert jwks_server.hits == 1
        await check(verifier, old.token("u1", ["mentor"], "records", method="GET", target="/x"))
        assert jwks_server.hits == 1, "keys are cached"
        # The gateway publishes a new key (old one kept) and starts signing with it.
        new = TestIssuer.create(tmp_path / "b.json", kid="key-2026-02")
        jwks_server.keys = [old.key.as_dict(private=False), new.key.as_dict(private=False)]
        assert (await check(verifier, new.token("u2", ["mentee"], "records", method="GET", target="/x"))).sub == "u2"
        assert jwks_server.hits == 2
        assert (await check(verifier, old.token("u1", ["mentor"], "records", method="GET", target="/x"))).sub == "u1"


async def test_unknown_kid_refresh_is_rate_limited(jwks_server: JwksServer, tmp_path: Any, redis: Redis) -> None:
    known = TestIssuer.create(tmp_path / "a.json", kid="known")
    jwks_server.keys = [known.key.as_dict(private=False)]
    stranger = OKPKey.generate_key("Ed25519", parameters={"kid": "stranger"})
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks(jwks_server.url, client, min_refresh_s=60), audience="records",
                                     issuer="tandem-gateway", replay=RedisReplayGuard(redis))
        await check(verifier, known.token("u", [], "records", method="GET", target="/x"))
        for _ in range(20):  # a flood of forged kids must not become a flood of JWKS fetches
            with pytest.raises(InvalidAssertion):
                await check(verifier, known.token("u", [], "records", key=stranger, method="GET", target="/x"))
        assert jwks_server.hits == 1


async def test_es256_is_accepted_and_other_algorithms_are_not(jwks_server: JwksServer, tmp_path: Any,
                                                               redis: Redis) -> None:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    ec = ECKey.generate_key("P-256", parameters={"kid": "ec"})
    jwks_server.keys = [ec.as_dict(private=False)]
    now = int(time.time())
    claims = {"iss": "tandem-gateway", "sub": "svc", "aud": "records", "roles": ["service"], "iat": now,
              "exp": now + 30, "jti": "j" * 16, **{"htm": "GET", "htu": "/x"}}
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks(jwks_server.url, client), audience="records", issuer="tandem-gateway",
                                     replay=RedisReplayGuard(redis))
        token = jwt.encode({"alg": "ES256", "kid": "ec"}, claims, ec)
        assert (await check(verifier, token)).is_service
        hs = jwt.encode({"alg": "HS256", "kid": "ec"}, claims, OctKey.generate_key(256))
        with pytest.raises(InvalidAssertion):
            await check(verifier, hs)
        wrong_issuer = jwt.encode({"alg": "ES256", "kid": "ec"}, {**claims, "iss": "someone-else"}, ec)
        with pytest.raises(InvalidAssertion):
            await check(verifier, wrong_issuer)


async def test_unreachable_jwks_rejects_instead_of_failing_open(tmp_path: Any, redis: Redis) -> None:
    issuer = TestIssuer.create(tmp_path / "a.json")
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks("http://127.0.0.1:1/jwks", client), audience="records",
                                     issuer="tandem-gateway", replay=RedisReplayGuard(redis))
        with pytest.raises(InvalidAssertion):
            await check(verifier, issuer.token("u", [], "records", method="GET", target="/x"))


async def test_a_key_that_signs_within_the_refresh_limit_is_waited_for(jwks_server: JwksServer, tmp_path: Any,
                                                                      redis: Redis) -> None:
    """Two rotations in a row (or a key published too short a time ahead): the service fetched the JWKS a
    moment ago and meets a kid it does not know. It waits for the next allowed refresh instead of
    answering 401 until then (issue #14 item 11), and still fetches at most once per limit."""
    first = TestIssuer.create(tmp_path / "a.json", kid="first")
    jwks_server.keys = [first.key.as_dict(private=False)]
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks(jwks_server.url, client), audience="records",
                                     issuer="tandem-gateway", replay=RedisReplayGuard(redis))
        await check(verifier, first.token("u", [], "records", method="GET", target="/x"))
        second = TestIssuer.create(tmp_path / "b.json", kid="second")
        jwks_server.keys.append(second.key.as_dict(private=False))
        assert (await check(verifier, second.token("u", [], "records", method="GET", target="/x"))).sub == "u"
        third = TestIssuer.create(tmp_path / "c.json", kid="third")
        jwks_server.keys.append(third.key.as_dict(private=False))
        results = await asyncio.gather(*(check(verifier, third.token(f"u{i}", [], "records", method="GET", target="/x"))
                                         for i in range(5)))
        assert {r.sub for r in results} == {f"u{i}" for i in range(5)}
        assert jwks_server.hits == 3, "one fetch per new key, shared by the requests that waited for it"
