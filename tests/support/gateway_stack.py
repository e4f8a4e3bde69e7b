"""A real gateway in front of three internal services built on the shared skeleton (probes, metrics,
schema, `/whoami` and the assertion wall, plus any routes a test adds), each under its own uvicorn
server on a free loopback port, in the test's event loop."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.gateway.app import create_app
from shared.service import build_app
from shared.settings import ServiceSettings
from tests.support.databases import Databases
from tests.support.gateway import Clock, Harness, insecure_fast_argon2_settings
from tests.support.servers import serve

SERVICES = ("sessions", "records", "reports")


def reserve_port() -> socket.socket:
    """A loopback socket bound to a free port, for `serve(app, sock=...)`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class GatewayStack:
    h: Harness
    direct: dict[str, str] = field(default_factory=dict)  # service name -> its own base URL (no gateway)


@contextlib.asynccontextmanager
async def gateway_stack(tmp_path: Path, gateway_db_url: str, redis_url: str, database_url: Databases, clock: Clock,
                        routes: dict[str, Sequence[Any]] | None = None,
                        **gateway_settings: Any) -> AsyncIterator[GatewayStack]:
    # Bound now and held until served: a port merely chosen can be taken meanwhile (an outgoing
    # connection of the apps starting up gets an ephemeral port from the same range).
    sockets = {name: reserve_port() for name in ("gateway", *SERVICES)}
    gw_port = sockets["gateway"].getsockname()[1]
    ports = {name: sockets[name].getsockname()[1] for name in SERVICES}
    gw_url = f"http://127.0.0.1:{gw_port}"
    jwks = f"{gw_url}/internal/assertion-jwks"
    settings = insecure_fast_argon2_settings(
        gateway_db_url, redis_url, issuer=gw_url,
        **{f"{name}_url": f"http://127.0.0.1:{port}" for name, port in ports.items()}, **gateway_settings)
    gateway = create_app(settings, clock=clock, run_consumers=False)
    apps = {name: build_app(name=name, settings=ServiceSettings(database_url=database_url(name), redis_url=redis_url,
                                                                jwks_url=jwks, migrate_on_start=False),
                            route_handlers=list((routes or {}).get(name, ())), migrations_dir=tmp_path)
            for name in SERVICES}
    async with contextlib.AsyncExitStack() as stack:
        for sock in sockets.values():
            stack.callback(sock.close)
        await stack.enter_async_context(serve(gateway, sock=sockets["gateway"]))
        for name, app in apps.items():
            await stack.enter_async_context(serve(app, sock=sockets[name]))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=gw_url, timeout=30))
        yield GatewayStack(Harness(gateway, client, clock, settings, url=gw_url),
                           {name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
