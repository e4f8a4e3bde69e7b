"""Security headers on every gateway response (proxied ones included; ours replace upstream's)."""

from __future__ import annotations

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


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar `before_send` hook: runs for every response, router 404s and error pages included."""
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
