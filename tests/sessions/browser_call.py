"""Two headless Chromium pages complete a call and a consented recording through the sessions service.

Run by test_browser.py inside a private network namespace holding only loopback (RUNTIME.md):
    unshare -n sh -c 'ip link set lo up; exec python -m tests.sessions.browser_call'
Prints one JSON line with what it observed; exits non-zero on failure.

Browsers cannot set the assertion header on a WebSocket: a small helper app here stands in for the
gateway (serves the call page, proxies the socket adding the assertion) and for the records ingest
(stores the streamed body), so the sessions service itself runs unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import av
import httpx
import uvicorn
import websockets
from litestar import Litestar, MediaType, Request, WebSocket, get, post, websocket
from litestar.params import QueryParameter
from playwright.async_api import async_playwright
from redis.asyncio import Redis

from deploy.local.children import free_port, start_redis
from services.sessions.adapters.sink import HttpRecordingSink
from tests.support.calls import loopback_host_addresses, open_session, serve
from tests.support.identity import TestIssuer
from tests.support.sessions import MENTEE, MENTOR, OTHER_MENTOR, ROLES, publish_users, sessions_settings, wait_projected

PAGE = Path(__file__).with_name("call_page.html").read_text()
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--disable-quic"]


def helper_app(sessions_ws: str, issuer: TestIssuer, stored: dict[str, bytes]) -> Litestar:
    @get("/call.html", media_type=MediaType.HTML, sync_to_thread=False)
    def page() -> str:
        return PAGE

    @websocket("/signal")
    async def proxy(socket: WebSocket[Any, Any, Any], user: Annotated[str, QueryParameter(name="user")],
                    sid: Annotated[str, QueryParameter(name="sid")]) -> None:
        await socket.accept()
        url = f"{sessions_ws}/sessions/{sid}/signal"
        async with websockets.connect(url, additional_headers=issuer.ws_headers(user, ROLES[user], "sessions", url,
                                                                                lifetime=60)) as upstream:
            async def down() -> None:
                async for raw in upstream:
                    await socket.send_text(raw if isinstance(raw, str) else raw.decode())

            task = asyncio.create_task(down())
            try:
                while True:
                    message = await socket.receive()
                    if message["type"] == "websocket.disconnect":
                        break
                    await upstream.send(message.get("text") or "")
            finally:
                task.cancel()

    @post("/ingest", status_code=201)
    async def ingest(request: Request[Any, Any, Any]) -> dict[str, str]:
        body = b"".join([chunk async for chunk in request.stream()])
        stored[f"rec-{len(stored) + 1}"] = body
        return {"id": f"rec-{len(stored)}"}

    return Litestar([page, proxy, ingest])


def decode(data: bytes) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with av.open(io.BytesIO(data)) as container:
        titles = {s.index: s.metadata.get("title", str(s.index)) for s in container.streams}
        for title in titles.values():
            out[title] = {"frames": 0, "errors": 0}
        for packet in container.demux():
            if packet.size == 0:
                continue
            entry = out[titles[packet.stream.index]]
            try:
                entry["frames"] += len(packet.decode())
            except av.FFmpegError:
                entry["errors"] += 1
    return out


async def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tandem-browser-") as d:
        tmp = Path(d)
        redis_child = start_redis(tmp / "redis")
        try:
            issuer = TestIssuer.create(tmp / "jwks.json")
            redis = Redis.from_url(redis_child.url)
            await publish_users(redis)
            await redis.aclose()
            stored: dict[str, bytes] = {}
            helper_port = free_port()
            client = httpx.AsyncClient(timeout=30.0)
            sink = HttpRecordingSink(f"http://127.0.0.1:{helper_port}/ingest", client)
            settings = sessions_settings(f"sqlite:///{tmp / 's.db'}", redis_child.url, issuer)
            with loopback_host_addresses():
                async with serve(settings, recording_sink=sink) as srv:
                    await wait_projected(srv.app, OTHER_MENTOR, vetted=True)
                    _pid, sid = await open_session(srv.url, issuer, MENTOR, MENTEE)
                    helper = uvicorn.Server(uvicorn.Config(helper_app(srv.ws, issuer, stored), host="127.0.0.1",
                                                           port=helper_port, log_config=None, lifespan="on"))
                    helper.install_signal_handlers = lambda: None  # type: ignore[method-assign]
                    helper_task = asyncio.create_task(helper.serve())
                    while not helper.started:
                        await asyncio.sleep(0.01)
                    try:
                        return await drive(helper_port, sid, stored)
                    finally:
                        helper.should_exit = True
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(helper_task, 10)
                        await client.aclose()
        finally:
            redis_child.stop()


async def drive(port: int, sid: str, stored: dict[str, bytes]) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}/call.html?sid={sid}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            a = await (await browser.new_context()).new_page()
            b = await (await browser.new_context()).new_page()
            await a.goto(f"{base}&user={MENTOR}&caller=1")
            await b.goto(f"{base}&user={MENTEE}")
            for p in (a, b):
                await p.wait_for_function("window.callConnected === true", timeout=20000)
            await a.evaluate("send({type: 'consent-request'}); send({type: 'consent-grant'})")
            await b.wait_for_function("window.recState === 'requested' && window.granted.length === 1",
                                      timeout=10000)
            await b.evaluate("send({type: 'consent-grant'})")
            for p in (a, b):
                await p.wait_for_function("window.recState === 'recording' && window.recorderConnected === true",
                                          timeout=20000)
            await asyncio.sleep(4.0)
            await a.evaluate("send({type: 'consent-revoke'})")
            for p in (a, b):
                await p.wait_for_function("window.recState === 'idle'", timeout=10000)
            for _ in range(200):
                if stored:
                    break
                await asyncio.sleep(0.05)
            errors = [await p.evaluate("window.errors") for p in (a, b)]
        finally:
            await browser.close()
    body = next(iter(stored.values()), b"")
    return {"call_connected": True, "recorded_bytes": len(body), "streams": decode(body) if body else {},
            "page_errors": errors}


if __name__ == "__main__":
    try:
        result = asyncio.run(main())
    except Exception as exc:  # noqa: BLE001 - report any failure as one line for the test
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:2000]}))
        sys.exit(1)
    print(json.dumps(result))
