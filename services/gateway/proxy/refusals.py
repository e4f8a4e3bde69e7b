"""Refusing a WebSocket handshake with a real HTTP answer (problem+json, status, Retry-After).

A socket closed before it was accepted reaches the client as a bare 403, which says "not allowed" when
the truth is "try again in a moment". Where the server offers the ASGI denial-response extension (uvicorn
does), the handshake gets the same problem+json an HTTP request would; elsewhere the close code says it:
1013 (try again later).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from services.gateway.proxy.headers import SECURITY_HEADERS
from shared.http import PROBLEM

Send = Callable[[dict[str, Any]], Awaitable[None]]

TRY_AGAIN_LATER = 1013


class ProxyProblem(Exception):
    """A refusal the proxy answers itself, as problem+json (or a WebSocket denial)."""

    def __init__(self, status: int, detail: str, slug: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.slug, self.headers = status, detail, slug, headers


async def deny_websocket(scope: dict[str, Any], send: Send, status: int, detail: str, slug: str,
                         headers: dict[str, str] | None = None) -> None:
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": TRY_AGAIN_LATER if status == 503 else 1008})
        return
    body = json.dumps({"type": f"https://tandem.invalid/problems/{slug}", "title": HTTPStatus(status).phrase,
                       "status": status, "detail": detail}).encode()
    head = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"), *SECURITY_HEADERS,
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items())]
    await send({"type": "websocket.http.response.start", "status": status, "headers": head})
    await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
