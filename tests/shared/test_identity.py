"""Assertion verification against a JWKS served over real HTTP, including key rotation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, OKPKey

from shared.identity import AssertionVerifier, HttpJwks, InvalidAssertion
from tests.support.identity import TestIssuer


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


async def test_rotation_is_picked_up_on_unknown_kid(jwks_server: JwksServer, tmp_path: Any) -> None:
    old = TestIssuer.create(tmp_path / "a.json", kid="key-2026-01")
    jwks_server.keys = [old.key.as_dict(private=False)]
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks(jwks_server.url, client, min_refresh_s=0), audience="records",
                                     issuer="tandem-gateway")
        ident = await verifier.verify(old.token("u1", ["mentor"], "records"))
        assert ident.sub == "u1" and ident.roles == frozenset({"mentor"})
        assert jwks_server.hits == 1
        await verifier.verify(old.token("u1", ["mentor"], "records"))
        assert jwks_server.hits == 1, "keys are cached"
        # The gateway publishes a new key (old one kept) and starts signing with it.
        new = TestIssuer.create(tmp_path / "b.json", kid="key-2026-02")
        jwks_server.keys = [old.key.as_dict(private=False), new.key.as_dict(private=False)]
        assert (await verifier.verify(new.token("u2", ["mentee"], "records"))).sub == "u2"
        assert jwks_server.hits == 2
        assert (await verifier.verify(old.token("u1", ["mentor"], "records"))).sub == "u1"


async def test_unknown_kid_refresh_is_rate_limited(jwks_server: JwksServer, tmp_path: Any) -> None:
    known = TestIssuer.create(tmp_path / "a.json", kid="known")
    jwks_server.keys = [known.key.as_dict(private=False)]
    stranger = OKPKey.generate_key("Ed25519", parameters={"kid": "stranger"})
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks(jwks_server.url, client, min_refresh_s=60), audience="records",
                                     issuer="tandem-gateway")
        await verifier.verify(known.token("u", [], "records"))
        for _ in range(20):  # a flood of forged kids must not become a flood of JWKS fetches
            with pytest.raises(InvalidAssertion):
                await verifier.verify(known.token("u", [], "records", key=stranger))
        assert jwks_server.hits == 1


async def test_es256_is_accepted_and_other_algorithms_are_not(jwks_server: JwksServer, tmp_path: Any) -> None:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    ec = ECKey.generate_key("P-256", parameters={"kid": "ec"})
    jwks_server.keys = [ec.as_dict(private=False)]
    now = int(time.time())
    claims = {"iss": "tandem-gateway", "sub": "svc", "aud": "records", "roles": ["service"], "iat": now,
              "exp": now + 30, "jti": "j"}
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks(jwks_server.url, client), audience="records", issuer="tandem-gateway")
        token = jwt.encode({"alg": "ES256", "kid": "ec"}, claims, ec)
        assert (await verifier.verify(token)).is_service
        hs = jwt.encode({"alg": "HS256", "kid": "ec"}, claims, OctKey.generate_key(256))
        with pytest.raises(InvalidAssertion):
            await verifier.verify(hs)
        wrong_issuer = jwt.encode({"alg": "ES256", "kid": "ec"}, {**claims, "iss": "someone-else"}, ec)
        with pytest.raises(InvalidAssertion):
            await verifier.verify(wrong_issuer)


async def test_unreachable_jwks_rejects_instead_of_failing_open(tmp_path: Any) -> None:
    issuer = TestIssuer.create(tmp_path / "a.json")
    async with httpx.AsyncClient() as client:
        verifier = AssertionVerifier(HttpJwks("http://127.0.0.1:1/jwks", client), audience="records",
                                     issuer="tandem-gateway")
        with pytest.raises(InvalidAssertion):
            await verifier.verify(issuer.token("u", [], "records"))
