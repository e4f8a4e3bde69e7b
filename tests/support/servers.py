"""Real uvicorn servers for in-process apps, on free loopback ports, in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from deploy.local.children import free_port


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Run `app` under a real uvicorn server on a free loopback port, in this event loop. `sock`: a socket
    bound in advance (`reserve_port`), so nothing else can take the port between choosing and serving."""
    port = sock.getsockname()[1] if sock is not None else (port or free_port())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on",
                            server_header=False,
                            ws="websockets-sansio")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock] if sock is not None else None))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
        raise RuntimeError("server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
