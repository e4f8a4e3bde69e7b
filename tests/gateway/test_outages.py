"""Redis dies (SIGKILL) while the gateway serves: every gateway path answers problem+json 503 with
Retry-After (proxied HTTP, the public reports form, a WebSocket upgrade, sign-in, the OAuth token
endpoint, the web app's own API), never a 500 and never a traceback in the logs; when Redis is back, the
same paths work again without a restart."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from deploy.local.children import RedisChild, start_redis
from tests.support.databases import Databases
from tests.support.gateway import PASSWORD, Clock
from tests.support.gateway_stack import GatewayStack, gateway_stack
from tests.support.logs import captured_json_logs

pytestmark = pytest.mark.integration


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    with captured_json_logs("info") as out:
        yield out


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisChild]:
    """A redis-server of this test's own: it is killed mid-test (the session's is shared)."""
    child = start_redis(tmp_path / "redis")
    yield child
    child.stop()


@pytest.fixture
async def stack(tmp_path: Path, own_redis: RedisChild, gateway_db: Callable[..., str], database_url: Databases,
                clock: Clock, log_output: io.StringIO) -> AsyncIterator[GatewayStack]:
    async with gateway_stack(tmp_path, gateway_db(), own_redis.url, database_url, clock) as s:
        yield s


def _assert_unavailable(r: httpx.Response, what: str) -> None:
    assert r.status_code == 503, (what, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), what
    assert int(r.headers["retry-after"]) > 0, what
    body = r.json()
    assert body["status"] == 503 and "Traceback" not in r.text and "Error" not in body["detail"], what


async def _every_path(stack: GatewayStack, cookie: dict[str, str], csrf: dict[str, str],
                      secret: tuple[str, str]) -> dict[str, httpx.Response]:
    c = stack.h.client
    return {
        "proxied GET": await c.get("/api/records/whoami", headers=cookie),
        "proxied POST": await c.post("/api/sessions/whoami", headers={**cookie, **csrf}, content=b"{}"),
        "public reports form": await c.post("/api/reports/concerns", json={"category": "safety", "text": "t",
                                                                           "anonymous": True}),
        "sign-in": await c.post("/auth/login", json={"email": "mia@example.org", "password": PASSWORD}),
        "oauth token": await c.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=secret),
        "web app session": await c.get("/auth/session", headers=cookie),
        "web app inbox": await c.get("/me/inbox", headers=cookie),
    }


async def _ws_status(stack: GatewayStack, cookie: dict[str, str]) -> tuple[int, dict[str, str]]:
    url = stack.h.url.replace("http://", "ws://") + "/api/sessions/ws"
    try:
        async with websockets.connect(url, additional_headers=cookie, open_timeout=10):
            return 101, {}
    except InvalidStatus as exc:
        return exc.response.status_code, dict(exc.response.headers)


async def test_redis_killed_mid_flow_is_503_everywhere_and_recovers(stack: GatewayStack, own_redis: RedisChild,
                                                                    tmp_path: Path, log_output: io.StringIO) -> None:
    h = stack.h
    member = await h.user("mia@example.org", ["mentee"])
    client = await h.gw.oauth_clients.create(name="recorder", redirect_uris=[], post_logout_redirect_uris=[],
                                             grant_types=["client_credentials"], scope=["api"], confidential=True)
    secret: tuple[str, str] = (client[0], client[1] or "")
    cookie, csrf = member.headers(csrf=False), {"x-csrf-token": member.csrf}
    assert (await h.client.get("/api/records/whoami", headers=cookie)).status_code == 200

    own_redis.proc.kill()  # SIGKILL: no goodbye to any client
    own_redis.proc.wait()

    for _ in range(2):  # the first request finds the dead connection, the second a refused one
        answers = await _every_path(stack, cookie, csrf, secret)
        for what, r in answers.items():
            # A sign-in this instance checked a moment ago is remembered (until its subscription to
            # revocations is seen to be down), and a client-credentials token may need only the database:
            # those may still succeed. Whatever needs Redis is a 503.
            if what in ("proxied GET", "proxied POST", "oauth token") and r.status_code < 500:
                continue
            _assert_unavailable(r, what)
        status, headers = await _ws_status(stack, cookie)
        assert status == 503 and int(headers["retry-after"]) > 0, (status, headers)
        assert headers["content-type"].startswith("application/problem+json")

    restarted = start_redis(tmp_path / "redis", port=own_redis.port)
    try:
        member = await h.login("mia@example.org")  # the sessions died with Redis: sign in again
        cookie, csrf = member.headers(csrf=False), {"x-csrf-token": member.csrf}
        answers = await _every_path(stack, cookie, csrf, secret)
        assert {what: r.status_code for what, r in answers.items()} == {
            "proxied GET": 200, "proxied POST": 405, "public reports form": 404, "sign-in": 200, "oauth token": 200,
            "web app session": 200, "web app inbox": 200}
        status, _ = await _ws_status(stack, cookie)
        assert status != 503  # the skeleton service has no socket route: its own refusal, not an outage
    finally:
        restarted.stop()

    logs = log_output.getvalue()
    assert "dependency_unavailable" in logs  # the outage was logged (its type only)
    assert "Traceback" not in logs and "http.unhandled_exception" not in logs
    assert '"status": 500' not in logs and '"status":500' not in logs
