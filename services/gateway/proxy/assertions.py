"""The identity assertion a proxied request carries to its service: signed for that request alone.

Each assertion is bound to the request it was minted for (method, or "WS" for a WebSocket handshake, and
the exact target the proxy sends: path and query as on the wire) and has its own `jti`, which the service
accepts once across all its instances (`shared.identity`). So it is signed on the request's path, after
authorization, when the target is known.

(It used to be signed one request ahead for a caller in a burst, to take the signature off the next
request's path. A binding to the next request's target cannot be known ahead, and a signature over less
than the request would make the binding optional, so that is gone. What it saved is won back by
signing the compact JWS directly (`sign_compact`): the Ed25519 signature itself through `cryptography`,
with the header encoded once per key, instead of joserfc's general path, which took about twice as long
per assertion. See docs/gateway.md for the measurements.)
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import msgspec

from services.gateway.auth.caller import Caller
from services.gateway.keys.service import KeyRing, SigningKey
from shared.clock import EpochClock
from shared.identity import WEBSOCKET_METHOD

_HEADERS: dict[str, bytes] = {}  # kid -> base64url(protected header): a handful of keys over a process's life


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def sign_compact(key: SigningKey, claims: dict[str, Any]) -> str:
    """An Ed25519 JWT (RFC 7515 compact serialization, RFC 8037) over `claims`, signed with `key`: the
    same token joserfc makes, without its general machinery on every request's path."""
    header = _HEADERS.get(key.kid)
    if header is None:
        if len(_HEADERS) > 64:
            _HEADERS.clear()
        header = _HEADERS[key.kid] = _b64(msgspec.json.encode({"alg": key.alg, "kid": key.kid, "typ": "JWT"}))
    signing_input = header + b"." + _b64(msgspec.json.encode(claims))
    return (signing_input + b"." + _b64(key.key.private_key.sign(signing_input))).decode("ascii")


def wire_target(url: str) -> str:
    """The request target of an absolute upstream URL (`http://host:port/path?query` → `/path?query`),
    exactly as the upstream request line carries it, which is what the service compares."""
    rest = url[url.index("://") + 3:]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


class Assertions:
    """Identity assertions for the internal services, signed with the assertion key ring."""

    def __init__(self, ring: KeyRing, *, issuer: str, lifetime_s: int, clock: EpochClock) -> None:
        self.ring = ring
        self.issuer = issuer
        self.lifetime_s = lifetime_s
        self.clock = clock

    def sign(self, caller: Caller, audience: str, *, method: str, target: str) -> str:
        """The identity assertion for one request to `audience`: bound to its `method` (or "WS") and its
        wire target (`shared.identity.request_target`), with a fresh `jti` the service accepts once."""
        now = int(self.clock())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": caller.sub, "aud": audience,
                                  "roles": list(caller.roles), "iat": now, "exp": now + self.lifetime_s,
                                  "jti": uuid.uuid4().hex, "htm": method, "htu": target}
        if caller.sid:
            claims["sid"] = caller.sid
        key = self.ring.current()
        if key.alg == "Ed25519":  # (the assertion ring's algorithm; the general path stays for any other)
            return sign_compact(key, claims)
        return self.ring.sign(claims)


def upstream_assertion(assertions: Assertions, caller: Caller, service: str, scope: dict[str, Any], url: str) -> str:
    """The assertion for this one upstream request (`url` as the proxy will send it)."""
    method = WEBSOCKET_METHOD if scope["type"] == "websocket" else str(scope["method"])
    return assertions.sign(caller, service, method=method, target=wire_target(url))
