"""Anonymous means unlinkable at the gateway too: a signed-in member files an anonymous concern and
follows it up by receipt, and neither Redis (rate counters, the browser session's last-seen time), nor the
gateway's logs, nor what reports is sent carries anything that ties it to the account."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey
from litestar import Request, get, post
from litestar.di import NamedDependency
from redis.asyncio import Redis

from services.gateway.accounts.credentials import token_hash
from shared.identity import Identity
from tests.support.databases import Databases
from tests.support.gateway import Browser, Clock
from tests.support.gateway_stack import GatewayStack, gateway_stack
from tests.support.logs import captured_json_logs

pytestmark = pytest.mark.integration

SEEN: list[dict[str, str]] = []  # what the stand-in reports service was sent


def _seen(request: Request[Any, Any, Any], identity: Identity) -> dict[str, Any]:
    SEEN.append(dict(request.headers))
    return {"sub": identity.sub}


@post("/concerns", status_code=201, sync_to_thread=False)
def concerns(request: Request[Any, Any, Any], identity: NamedDependency[Identity]) -> dict[str, Any]:
    return _seen(request, identity)


@get("/receipt", sync_to_thread=False)
def receipt(request: Request[Any, Any, Any], identity: NamedDependency[Identity]) -> dict[str, Any]:
    return _seen(request, identity)


@post("/receipt/messages", status_code=201, sync_to_thread=False)
def receipt_messages(request: Request[Any, Any, Any], identity: NamedDependency[Identity]) -> dict[str, Any]:
    return _seen(request, identity)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    with captured_json_logs("debug") as out:
        yield out


@pytest.fixture
async def stack(tmp_path: Path, redis_url: str, gateway_db: Callable[..., str], database_url: Databases,
                clock: Clock) -> AsyncIterator[GatewayStack]:
    SEEN.clear()
    async with gateway_stack(tmp_path, gateway_db(), redis_url, database_url, clock,
                             routes={"reports": [concerns, receipt, receipt_messages]}) as s:
        yield s


async def _dump(redis: Redis) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw in sorted(await redis.keys("*")):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        kind = await redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind == "string":
            out[key] = await redis.get(key)
        elif kind == "set":
            out[key] = sorted(await redis.smembers(key))
        else:
            out[key] = kind
    return out


def _claims(stack: GatewayStack, token: str) -> dict[str, Any]:
    keys = stack.h.gw.keys.assertion.jwks()["keys"]
    for key in reversed(keys):
        try:
            return jwt.decode(token, OKPKey.import_key(key), algorithms=["Ed25519"]).claims
        except Exception:  # noqa: BLE001, S112 - another key of the set
            continue
    raise AssertionError("assertion not signed by the gateway")


async def test_a_signed_in_member_files_and_follows_up_anonymously_without_a_trace(
        stack: GatewayStack, redis: Redis, log_output: io.StringIO) -> None:
    h = stack.h
    member: Browser = await h.user("mia@example.org", ["mentee"])
    sid = (await h.client.get("/auth/session", headers=member.headers(csrf=False))).json()["sid"]
    # Last seen long enough ago that any read of the session would move it (the idle-timeout touch).
    session_key = f"gw:s:{token_hash(member.cookie)}"
    stored = await redis.get(session_key)
    assert stored is not None
    data = json.loads(stored)
    data["seen"] -= h.gw.sessions.touch_s + 1
    await redis.set(session_key, json.dumps(data), keepttl=True)
    session_before = await redis.get(session_key)
    before = await _dump(redis)
    logged_from = len(log_output.getvalue())
    SEEN.clear()

    # What the web app sends: the anonymous filing and the follow-up without cookie or CSRF token.
    filed = await h.client.post("/api/reports/concerns", json={"category": "safety", "text": "t", "anonymous": True})
    assert filed.status_code == 201, filed.text
    # A follow-up by receipt from a page that did send its cookie along (an older page, another client):
    # receipt routes do not even read credentials.
    follow = {"tandem-receipt": "r" * 30}
    for headers in ({}, member.headers()):
        assert (await h.client.get("/api/reports/receipt", headers={**headers, **follow})).status_code == 200
        r = await h.client.post("/api/reports/receipt/messages", json={"text": "x"}, headers={**headers, **follow})
        assert r.status_code == 201

    after = await _dump(redis)
    assert await redis.get(session_key) == session_before  # last-seen untouched
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    ip = "127.0.0.1"
    linking = (member.user_id, sid, token_hash(member.cookie), member.cookie, ip)
    for key, value in changed.items():
        # Only the public limit (by the day's client hash), that hash's key and the services' record of
        # used assertion ids (random, one per request) may move.
        assert key.startswith(("gw:rl:public:", "gw:client-hash-key:", "tandem:assertion-jti:")), key
        assert not any(n in key or n in str(value) for n in linking), key
    # Nothing per account or per address moved: the account's counters and the address's counter.
    assert {k: v for k, v in before.items() if k.startswith(("gw:rl:id:", "gw:rl:ip:"))} == \
        {k: v for k, v in after.items() if k.startswith(("gw:rl:id:", "gw:rl:ip:"))}

    assert len(SEEN) == 5
    for headers in SEEN:
        claims = _claims(stack, headers["tandem-assertion"])
        assert claims["sub"] == "anonymous" and not claims.get("roles") and not claims.get("sid"), claims
        text = str({k: v for k, v in headers.items() if k != "host"})  # host: the service's own (loopback) address
        assert not any(n in text for n in linking), headers
        assert "cookie" not in headers and "x-csrf-token" not in headers and "x-forwarded-for" not in headers

    logged = log_output.getvalue()[logged_from:]
    assert "/api/reports/concerns" in logged  # the request lines were captured
    for needle in linking:
        assert needle not in logged, needle
