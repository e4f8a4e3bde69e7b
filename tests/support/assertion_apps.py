"""A service built on the shared skeleton (probes, request logs, the assertion wall) with a few routes to
aim requests at: GET/POST /things, GET /other and a WebSocket /ws that echoes ("close" → close 4000).
For tests of what the wall accepts and of what the request log says; several instances may share one
Redis, as a service's instances do; `stack_of` puts two of them behind a gateway (which forwards to the
first)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from litestar import Request, WebSocket, get, route, websocket
from litestar.di import NamedDependency

from deploy.local.children import free_port
from services.gateway.app import create_app
from shared.identity import Identity
from shared.service import build_app
from shared.settings import ServiceSettings
from tests.support.databases import Databases
from tests.support.gateway import Clock, Harness, insecure_fast_argon2_settings
from tests.support.servers import serve


def wall_app(name: str, tmp_path: Path, database_url: str, redis_url: str, *, jwks_file: str = "",
             jwks_url: str = "", seen: list[dict[str, str]] | None = None) -> Any:
    seen_headers = seen if seen is not None else []

    @route("/things", http_method=["GET", "POST"], status_code=200, sync_to_thread=False)
    def things(request: Request[Any, Any, Any], identity: NamedDependency[Identity]) -> dict[str, Any]:
        seen_headers.append(dict(request.headers))
        return {"sub": identity.sub, "method": request.method, "query": request.scope["query_string"].decode()}

    @get("/other", sync_to_thread=False)
    def other(identity: NamedDependency[Identity]) -> dict[str, str]:
        return {"sub": identity.sub}

    @websocket("/ws")
    async def ws(socket: WebSocket[Any, Any, Any]) -> None:
        seen_headers.append(dict(socket.headers))
        await socket.accept()
        while True:
            try:
                text = await socket.receive_text()
            except Exception:  # noqa: BLE001 - the client closed
                return
            if text == "close":
                await socket.close(code=4000, reason="bye")
                return
            await socket.send_text(f"echo:{text}")

    settings = ServiceSettings(database_url=database_url, redis_url=redis_url, jwks_file=jwks_file,
                               migrate_on_start=False)
    if jwks_url:
        settings = dataclasses.replace(settings, jwks_url=jwks_url)
    return build_app(name=name, settings=settings, route_handlers=[things, other, ws], migrations_dir=tmp_path)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def request_lines(stream: io.StringIO, path: str) -> list[dict[str, Any]]:
    """The `http.request` lines for `path` (the gateway's are under /api/<service>/...)."""
    return [r for r in json_lines(stream) if r.get("event") == "http.request" and r.get("path") == path]


@dataclass
class Stack:
    h: Harness
    one: str  # the service's instances, direct
    two: str
    seen: list[dict[str, str]] = field(default_factory=list)

    def claims(self, token: str) -> dict[str, Any]:
        keys = KeySet.import_key_set(self.h.gw.keys.assertion.jwks())  # type: ignore[arg-type]
        return dict(jwt.decode(token, keys, algorithms=["Ed25519"]).claims)


@contextlib.asynccontextmanager
async def stack_of(tmp_path: Path, redis_url: str, gateway_db: Callable[..., str], database_url: Databases,
                   clock: Clock) -> AsyncIterator[Stack]:
    gw_port, one_port, two_port = free_port(), free_port(), free_port()
    gw_url = f"http://127.0.0.1:{gw_port}"
    settings = insecure_fast_argon2_settings(gateway_db(), redis_url, records_url=f"http://127.0.0.1:{one_port}",
                                             sessions_url="http://127.0.0.1:9", reports_url="http://127.0.0.1:9",
                                             issuer=gw_url)
    seen: list[dict[str, str]] = []
    db = database_url("records")
    jwks = f"{gw_url}/internal/assertion-jwks"
    one = wall_app("records", tmp_path, db, redis_url, jwks_url=jwks, seen=seen)
    two = wall_app("records", tmp_path, db, redis_url, jwks_url=jwks, seen=seen)
    gateway = create_app(settings, clock=clock, run_consumers=False)
    async with serve(gateway, gw_port), serve(one, one_port) as one_url, serve(two, two_port) as two_url, \
            httpx.AsyncClient(base_url=gw_url, timeout=30) as client:
        yield Stack(Harness(gateway, client, clock, settings, url=gw_url), one_url, two_url, seen)
