"""The reports routes anyone may use without an account, and how the proxy keeps them unlinkable.

Reports may be filed without an account (seeds: anyone can raise a concern): these routes are forwarded
for a caller with no credentials at all as sub "anonymous" with no roles. Nothing identifying the client
reaches reports: no address, user agent or referrer; only a keyed, daily-rotating hash of the address
for its rate limits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from redis.asyncio import Redis

from services.gateway.auth.caller import Caller
from services.gateway.proxy.refusals import ProxyProblem
from services.gateway.proxy.service import Proxy
from shared.clock import EpochClock

Scope = dict[str, Any]

PUBLIC_REPORT_ROUTES = frozenset({("POST", "/concerns"), ("GET", "/receipt"), ("POST", "/receipt/messages")})
RECEIPT_ROUTES = frozenset({("GET", "/receipt"), ("POST", "/receipt/messages")})
CLIENT_HASH_STATE = "tandem.proxy.client_hash"  # in scope["state"]: computed once per request
PUBLIC_SUBJECT = "anonymous"
CLIENT_HASH_HEADER = "tandem-client-hash"
REPORTS_DROP = frozenset({"user-agent", "referer", "origin", "x-forwarded-for", "via"})


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def public_caller(proxy: Proxy, scope: Scope, service: str, path: str,
                         headers: dict[str, str]) -> Caller | None:
    """The anonymous caller of a public reports route, or None when the route is not public."""
    route = (scope["method"], path)
    if service != "reports" or route not in PUBLIC_REPORT_ROUTES:
        return None
    # Following up by receipt is anonymous whoever asks: credentials sent along are not even read, so no
    # session's last-seen time, rate counter or log line of the account moves with it.
    if route not in RECEIPT_ROUTES:
        if headers.get("authorization"):
            return None  # a token is a deliberate credential: it must be valid (never a quiet anonymous filing)
        cookie = proxy.sessions.cookie_of(headers)
        if cookie is not None and await proxy.sessions.get(cookie) is not None:
            return None  # a signed-in browser files as its user (reports refuses it an anonymous filing)
    # No cookie, or one whose browser session is over (a tab left open): the public form is anonymous anyway.
    # Limited by the day's client hash alone: no key holds the address the account's own requests count under.
    client_hash = await day_client_hash(proxy.redis, proxy.clock, client_ip(scope))
    scope["state"][CLIENT_HASH_STATE] = client_hash
    await proxy.limiter.hit((f"public:{client_hash}", proxy.settings.auth_rate_limit_per_ip))
    return Caller(sub=PUBLIC_SUBJECT, roles=(), sid=None, via="public")


def client_hash_key(day: int) -> str:
    """The Redis key of one UTC day's client-hash key."""
    return f"gw:client-hash-key:{day}"


async def day_client_hash(redis: Redis, clock: EpochClock, ip: str) -> str:
    """HMAC of the client address under a key shared by all gateway instances for one UTC day."""
    key_name = client_hash_key(int(clock() // 86_400))
    await redis.set(key_name, secrets.token_bytes(32), nx=True, ex=2 * 86_400)
    key = await redis.get(key_name)
    if not isinstance(key, bytes):
        raise ProxyProblem(503, "Please try again in a moment.", "unavailable")
    digest = hmac.new(key, ip.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
