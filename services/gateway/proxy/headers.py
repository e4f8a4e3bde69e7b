"""Security headers on every gateway response (proxied ones included; ours replace upstream's).

`secured(send, scope)` adds them to whatever the gateway's own routes, router 404s and error pages send;
the proxy writes them into a relayed response's head itself (`proxied_response_headers`), in the one pass
that also drops the service's hop-by-hop headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.types import Message, Scope

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=(), payment=()"),
)
_NAMES = frozenset(name for name, _ in SECURITY_HEADERS) | {b"server", b"x-powered-by"}
# Responses that carry credentials or personal data must not be cached anywhere.
NO_STORE_PREFIXES = ("/oauth/", "/auth/", "/me", "/admin/", "/api/")


Send = Callable[[Any], Awaitable[None]]


def secured(send: Send, scope: Any) -> Send:
    """`send` with the security headers added to the response head."""

    async def _send(message: Message) -> None:
        if message["type"] == "http.response.start":
            add_security_headers(message, scope)
        await send(message)

    return _send


def proxied_response_headers(upstream: list[tuple[bytes, bytes]], drop: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
    """A relayed response's head: the service's headers but `drop` (lower-case names) and ours, then ours,
    and `cache-control: no-store` unless the service chose a cache policy (every /api/ path is no-store)."""
    out = []
    cache_control = False
    for name, value in upstream:
        low = name.lower()
        if low in drop or low in _NAMES:
            continue
        cache_control = cache_control or low == b"cache-control"
        out.append((low, value))
    out.extend(SECURITY_HEADERS)
    if not cache_control:
        out.append((b"cache-control", b"no-store"))
    return out


def add_security_headers(message: Message, scope: Scope) -> None:
    """Add the security headers (and no-store where credentials or personal data may be) to a response head."""
    if message["type"] != "http.response.start":
        return
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
    headers.extend(SECURITY_HEADERS)
    raw = scope.get("raw_path")  # routing rewrites `path` for mounted apps; raw_path stays the request's
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(scope.get("path", ""))
    if path.startswith(NO_STORE_PREFIXES) and \
            not any(k.lower() == b"cache-control" for k, _ in headers):
        headers.append((b"cache-control", b"no-store"))
    message["headers"] = headers
