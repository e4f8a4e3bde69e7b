"""Mint identity assertions the way the gateway does, for service-level tests.

The gateway binds each assertion to one request (method and wire target) and services accept it once.
`token()` / `headers()` mint an unbound template unless `method` and `target` are given; a client passed
through `bind(client)` re-signs every template it sends for that very request (fresh `jti`, `htm`,
`htu`), as the gateway would. Assertions that are already bound, or signed by another key (tests of
forgeries), are sent as they are.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from shared.identity import ASSERTION_HEADER, WEBSOCKET_METHOD

C = TypeVar("C", bound=httpx.AsyncClient)


@dataclass
class TestIssuer:
    key: OKPKey
    jwks_path: Path
    issuer: str = "tandem-gateway"

    __test__ = False  # not a test class

    @classmethod
    def create(cls, jwks_path: Path, kid: str = "test-key-1") -> TestIssuer:
        key = OKPKey.generate_key("Ed25519", parameters={"kid": kid})
        jwks_path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
        return cls(key, jwks_path)

    def token(self, sub: str, roles: list[str], aud: str, *, lifetime: int = 30, iat: int | None = None,
              key: OKPKey | None = None, method: str | None = None, target: str | None = None,
              **extra: Any) -> str:
        """`method` ("GET", ..., or "WS" for a WebSocket) and `target` (raw path and `?query`) bind it."""
        now = iat if iat is not None else int(time.time())
        claims = {"iss": self.issuer, "sub": sub, "aud": aud, "roles": roles, "iat": now, "exp": now + lifetime,
                  "jti": uuid.uuid4().hex, "sid": extra.pop("sid", uuid.uuid4().hex), **extra}
        if method is not None:
            claims["htm"] = method
        if target is not None:
            claims["htu"] = target
        signer = key or self.key
        return jwt.encode({"alg": "Ed25519", "kid": signer.kid}, claims, signer, algorithms=["Ed25519"])

    def headers(self, sub: str, roles: list[str], aud: str, **kw: Any) -> dict[str, str]:
        return {ASSERTION_HEADER: self.token(sub, roles, aud, **kw)}

    def ws_headers(self, sub: str, roles: list[str], aud: str, url: str, **kw: Any) -> dict[str, str]:
        """Headers for a WebSocket handshake to `url` (ws://host/path?query)."""
        return self.headers(sub, roles, aud, method=WEBSOCKET_METHOD, target=httpx.URL(url).raw_path.decode(), **kw)

    def rebind(self, token: str, method: str, target: str) -> str:
        """`token` bound to (method, target) with a fresh jti, when it is an unbound template of ours."""
        try:
            claims = dict(jwt.decode(token, self.key, algorithms=["Ed25519"]).claims)
        except (JoseError, ValueError):
            return token  # another key's, or not a JWT: a test of what services refuse
        if "htm" in claims or "htu" in claims:
            return token
        claims.update(jti=uuid.uuid4().hex, htm=method, htu=target)
        return jwt.encode({"alg": "Ed25519", "kid": self.key.kid}, claims, self.key, algorithms=["Ed25519"])

    async def _on_request(self, request: httpx.Request) -> None:
        token = request.headers.get(ASSERTION_HEADER)
        if token:
            request.headers[ASSERTION_HEADER] = self.rebind(token, request.method,
                                                            request.url.raw_path.decode("latin-1"))

    def bind(self, client: C) -> C:
        """Make `client` bind this issuer's assertion templates to each request it sends (once per client:
        the test helpers that hold a client and an issuer bind it too)."""
        hooks = client.event_hooks.get("request", [])
        if self._on_request not in hooks:
            client.event_hooks = {**client.event_hooks, "request": [*hooks, self._on_request]}
        return client
