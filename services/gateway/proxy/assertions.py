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
from typing import TYPE_CHECKING, Any

import msgspec

from shared.identity import WEBSOCKET_METHOD

if TYPE_CHECKING:
    from services.gateway.core import Caller, Gateway
    from services.gateway.keys.service import SigningKey

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


def upstream_assertion(gw: Gateway, caller: Caller, service: str, scope: dict[str, Any], url: str) -> str:
    """The assertion for this one upstream request (`url` as the proxy will send it)."""
    method = WEBSOCKET_METHOD if scope["type"] == "websocket" else str(scope["method"])
    return gw.assertion(caller, service, method=method, target=wire_target(url))
