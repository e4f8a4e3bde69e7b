"""The request log and metrics say what the client got (issue #14 items 2 and 6): an assertion refused
by the wall (missing, forged, replayed here or on another instance, minted for another request) is a
401 in the response, the log line and the metrics; the single-use check with Redis gone is a 503 with
Retry-After; a WebSocket's line says whether its handshake was accepted (or the status it was refused
with) and its close code. Real uvicorn servers, one real Redis shared by two instances."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from deploy.local.children import free_port, start_redis
from shared.logging import configure_logging
from tests.support.assertion_apps import json_lines, request_lines, wall_app
from tests.support.databases import Databases
from tests.support.identity import TestIssuer
from tests.support.servers import serve

pytestmark = pytest.mark.integration


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream, service="records")
    yield stream


@contextlib.asynccontextmanager
async def instances(tmp_path: Path, database_url: Databases, redis_url: str, issuer: TestIssuer,
                    n: int = 2) -> AsyncIterator[list[str]]:
    """`n` instances of one service (one database, one Redis), each under its own uvicorn server."""
    db = database_url("wall")
    urls: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(n):
            app = wall_app("records", tmp_path, db, redis_url, jwks_file=str(issuer.jwks_path))
            urls.append(await stack.enter_async_context(serve(app, free_port())))
        yield urls


def bound(issuer: TestIssuer, method: str, target: str, sub: str = "u1") -> dict[str, str]:
    return issuer.headers(sub, ["mentor"], "records", method=method, target=target)


async def test_replays_and_misuse_are_401_in_response_log_and_metrics(
        tmp_path: Path, database_url: Databases, redis_url: str, issuer: TestIssuer,
        log_stream: io.StringIO) -> None:
    async with instances(tmp_path, database_url, redis_url, issuer) as (one, two), httpx.AsyncClient() as client:
        captured = bound(issuer, "GET", "/things?x=1")
        assert (await client.get(f"{one}/things?x=1", headers=captured)).status_code == 200
        attempts = {
            "replayed, same instance": (one, "GET", "/things?x=1", captured),
            "replayed, second instance": (two, "GET", "/things?x=1", captured),
            "another method": (two, "POST", "/things?x=1", bound(issuer, "GET", "/things?x=1")),
            "another path": (one, "GET", "/other", bound(issuer, "GET", "/things")),
            "another query": (one, "GET", "/things?x=2", bound(issuer, "GET", "/things?x=1")),
            "no query": (one, "GET", "/things", bound(issuer, "GET", "/things?x=1")),
            "unbound": (two, "GET", "/other", issuer.headers("u1", ["mentor"], "records")),
            "missing": (one, "GET", "/other", {}),
            "forged": (two, "GET", "/other", {"tandem-assertion": "not.a.jwt"}),
        }
        for what, (base, method, target, headers) in attempts.items():
            r = await client.request(method, base + target, headers=headers)
            assert r.status_code == 401, (what, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json") and r.headers["x-request-id"]
        fresh = bound(issuer, "GET", "/other")
        assert (await client.get(f"{two}/other", headers=fresh)).status_code == 200
        metrics = "\n".join([(await client.get(f"{base}/metrics")).text for base in (one, two)])
    lines = request_lines(log_stream, "/things") + request_lines(log_stream, "/other")
    assert sorted(r["status"] for r in lines) == sorted([200, 200] + [401] * len(attempts))
    causes = [r["cause"] for r in json_lines(log_stream) if r.get("event") == "auth.assertion_rejected"]
    assert causes.count("replayed") == 2 and causes.count("binding") == 5 and "missing" in causes
    assert not [r for r in json_lines(log_stream) if r.get("status") == 500 or r.get("level") == "error"]
    counted: dict[str, float] = {}
    for labels, value in re.findall(r"^tandem_http_requests_total\{([^}]*)\} (\S+)$", metrics, re.M):
        status = dict(re.findall(r'(\w+)="([^"]*)"', labels))["status"]
        counted[status] = counted.get(status, 0) + float(value)
    assert "500" not in counted and counted["401"] == len(attempts)


async def test_redis_gone_is_503_with_retry_after_never_an_acceptance(
        tmp_path: Path, database_url: Databases, issuer: TestIssuer, log_stream: io.StringIO) -> None:
    child = start_redis(tmp_path / "redis")
    try:
        app = wall_app("records", tmp_path, database_url("wall"), child.url, jwks_file=str(issuer.jwks_path))
        async with serve(app, free_port()) as url, httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/things", headers=bound(issuer, "GET", "/things"))).status_code == 200
            child.stop()
            r = await client.get(f"{url}/things", headers=bound(issuer, "GET", "/things"))
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
            assert r.headers["content-type"].startswith("application/problem+json")
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(url.replace("http", "ws") + "/ws",
                                              additional_headers=issuer.ws_headers("u1", [], "records",
                                                                                   url + "/ws")):
                    pass
            assert refused.value.response.status_code == 503
    finally:
        child.stop()
    assert [r["status"] for r in request_lines(log_stream, "/things")] == [200, 503]
    ws_line = request_lines(log_stream, "/ws")[0]
    assert ws_line["status"] == 503 and ws_line["handshake"] == "rejected"
    assert not [r for r in json_lines(log_stream) if r.get("status") == 500]


async def test_websocket_lines_carry_handshake_and_close_code(
        tmp_path: Path, database_url: Databases, redis_url: str, issuer: TestIssuer,
        log_stream: io.StringIO) -> None:
    async with instances(tmp_path, database_url, redis_url, issuer) as (one, two):
        ws_one, ws_two = one.replace("http", "ws") + "/ws", two.replace("http", "ws") + "/ws"
        headers = issuer.ws_headers("u1", ["mentor"], "records", ws_one)
        async with websockets.connect(ws_one, additional_headers=headers) as ws:
            await ws.send("hi")
            assert await ws.recv() == "echo:hi"
        # the client closed normally (1000); now the service closes (4000)
        async with websockets.connect(ws_two, additional_headers=issuer.ws_headers("u1", [], "records",
                                                                                     ws_two)) as ws:
            await ws.send("close")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
        refusals: list[dict[str, Any]] = [
            {},  # no assertion
            headers,  # replayed, to the other instance
            issuer.headers("u1", [], "records", method="GET", target="/ws"),  # an HTTP GET's, not a socket's
        ]
        for refused_headers in refusals:
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(ws_two, additional_headers=refused_headers):
                    pass
            assert refused.value.response.status_code == 401
    lines = request_lines(log_stream, "/ws")
    accepted = [(r["status"], r["close_code"]) for r in lines if r["handshake"] == "accepted"]
    assert sorted(accepted) == [(101, 1000), (101, 4000)]
    assert [r["status"] for r in lines if r["handshake"] == "rejected"] == [401, 401, 401]
    assert all(r["method"] == "WS" for r in lines)
    assert not [r for r in json_lines(log_stream) if r.get("status") == 500]
