"""Identity-asserting reverse proxy: `/api/<service>/<path>` → `<service base URL>/<path>`.

Bodies stream both ways (no whole-body buffering); WebSockets are relayed frame by frame. Every
incoming identity header, cookie and Authorization header is dropped; the internal service gets a
fresh signed assertion for the authenticated caller instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import websockets
from litestar import Request
from litestar.exceptions import HTTPException
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from services.gateway.auth.caller import Caller
from services.gateway.auth.rules import PROXY
from services.gateway.live.service import Revocation
from services.gateway.proxy.assertions import upstream_assertion
from services.gateway.proxy.headers import proxied_response_headers, secured
from services.gateway.proxy.public import (
    CLIENT_HASH_HEADER,
    CLIENT_HASH_STATE,
    REPORTS_DROP,
    client_ip,
    day_client_hash,
    public_caller,
)
from services.gateway.proxy.refusals import ProxyProblem, deny_websocket
from services.gateway.proxy.service import Proxy
from services.gateway.proxy.upstream import UpstreamError, UpstreamTimeout
from shared.http import PUBLIC_PATHS, Metrics, ObservabilityMiddleware, problem_response, retry_after
from shared.identity import ASSERTION_HEADER
from shared.logging import get_logger
from shared.outage import DETAIL as OUTAGE_DETAIL
from shared.outage import dependency_down

log = get_logger("tandem.gateway.proxy")

SERVICES = ("sessions", "records", "reports")
# Identity claims a client might smuggle in: the services trust only the gateway's assertion.
IDENTITY_HEADERS = frozenset({ASSERTION_HEADER, "x-user", "x-user-id", "x-user-roles", "x-roles", "x-forwarded-user",
                              "x-remote-user", "remote-user", "x-auth-request-user", "x-identity"})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "host", "content-length"})
DROP_REQUEST = HOP_BY_HOP | IDENTITY_HEADERS | {"cookie", "authorization", "x-csrf-token", "forwarded",
                                                "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                                                "x-real-ip", "expect", "sec-websocket-key", "sec-websocket-version",
                                                "sec-websocket-extensions", "sec-websocket-protocol"}
DROP_REQUEST = DROP_REQUEST | {CLIENT_HASH_HEADER}
_DROP_REQUEST_RAW = frozenset(name.encode() for name in DROP_REQUEST)
_REPORTS_DROP_RAW = frozenset(name.encode() for name in REPORTS_DROP)
_ASSERTION_HEADER_RAW = ASSERTION_HEADER.encode()
_CLIENT_HASH_HEADER_RAW = CLIENT_HASH_HEADER.encode()
DROP_RESPONSE = frozenset(name.encode() for name in HOP_BY_HOP | {"set-cookie", "server", "date", "x-request-id"})
_STARTED = "tandem.proxy.response_started"  # in scope["state"]: past this, a failure can only cut the connection
WS_MAX_MESSAGE = 1 << 20

# Raw ASGI on purpose: a relay forwards messages Litestar's TypedDicts would only get in the way of.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _split(scope: Scope) -> tuple[str, str]:
    """(service, upstream path) from the undecoded request path; refuses dot segments."""
    raw = scope.get("raw_path") or scope["path"].encode()
    path = raw.decode("latin-1")
    rest = path.removeprefix("/api/")
    service, _, tail = rest.partition("/")
    if service not in SERVICES:
        raise ProxyProblem(404, "No such service.", "not-found")
    segments = [unquote(s) for s in tail.split("/")]
    if any(s in (".", "..") or "/" in s or "\\" in s for s in segments):
        raise ProxyProblem(400, "Path segments may not be dot segments or contain encoded slashes.", "bad-path")
    if _internal_only(segments):
        raise ProxyProblem(404, "No such service.", "not-found")  # the same answer as for a service that is not there
    return service, "/" + tail


# Probes, metrics and the schema are open on every service for the orchestrator's network; through the
# proxy they would be open to anyone signed in. Derived from the services' own list, so a path added
# there is refused here too.
INTERNAL_ONLY = frozenset(p.strip("/").lower() for p in PUBLIC_PATHS)


def _internal_only(segments: list[str]) -> bool:
    """Whether the first non-empty (decoded) segment names an orchestrator-only path, in any spelling a
    router might still send there: any case, padded, with path parameters (`;x`), repeated slashes."""
    first = next((s for s in segments if s), "")
    return first.split(";", 1)[0].strip().lower() in INTERNAL_ONLY


_AUTH_HEADERS = frozenset({b"authorization", b"cookie", b"x-csrf-token"})


def _auth_headers(scope: Scope) -> dict[str, str]:
    """The few request headers authentication reads (several Cookie headers are joined, per RFC 6265)."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name in _AUTH_HEADERS:
            key, text = name.decode("latin-1"), value.decode("latin-1")
            if key == "cookie" and key in out:
                out[key] += "; " + text
            else:
                out.setdefault(key, text)
    return out


async def _authorize(proxy: Proxy, scope: Scope, headers: dict[str, str]) -> Caller:
    return await proxy.auth.caller(headers, str(scope.get("method", "GET")), client_ip(scope), PROXY)


def _upstream_headers(proxy: Proxy, scope: Scope, caller: Caller, service: str,
                      url: str) -> list[tuple[bytes, bytes]]:
    """What the service gets: the client's headers less hop-by-hop, identity, credential and forwarding
    ones (for reports also anything identifying the client), then the assertion, the request id and
    forwarding headers of our own. Raw bytes from the server's parse to the upstream request."""
    reports = service == "reports"
    request_id = scope.get("state", {}).get("request_id")
    out: list[tuple[bytes, bytes]] = []
    length: bytes | None = None
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name == b"content-length":
            length = value if length is None else length
        elif not (name in _DROP_REQUEST_RAW or name.startswith(b"x-user") or (reports and name in _REPORTS_DROP_RAW)
                  or (request_id and name == b"x-request-id")):
            out.append((name, value))
    if length is not None:
        out.append((b"content-length", length))
    assertion = upstream_assertion(proxy.assertions, caller, service, scope, url)  # bound to this very request
    out.append((_ASSERTION_HEADER_RAW, assertion.encode("latin-1")))
    if request_id:
        out.append((b"x-request-id", request_id.encode("latin-1")))
    if not reports:
        out.append((b"x-forwarded-for", client_ip(scope).encode("latin-1")))
    out.append((b"x-forwarded-proto", b"https" if proxy.settings.issuer.startswith("https") else b"http"))
    return out


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client went away")  # aborts the upstream request (an OSError)
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


async def _send_problem(scope: Scope, receive: Receive, send: Send, status: int, detail: str, slug: str,
                        headers: dict[str, str] | None = None) -> None:
    response = problem_response(status, detail, slug=slug, headers=headers, instance=None)
    asgi_response = response.to_asgi_response(app=None, request=Request(scope, receive))  # type: ignore[arg-type]
    await asgi_response(scope, receive, secured(send, scope))  # type: ignore[arg-type]


async def _proxy_http(proxy: Proxy, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        service, path = _split(scope)
        auth = _auth_headers(scope)
        caller = await public_caller(proxy, scope, service, path, auth) or await _authorize(proxy, scope, auth)
    except ProxyProblem as p:
        await _send_problem(scope, receive, send, p.status, p.detail, p.slug, p.headers)
        return
    except HTTPException as exc:
        await _send_problem(scope, receive, send, exc.status_code, str(exc.detail),
                            getattr(exc, "slug", "error"), exc.headers)
        return
    url = proxy.settings.upstream(service) + path
    query = scope.get("query_string", b"")
    if query:
        url += "?" + query.decode("latin-1")
    method = scope["method"]
    headers = _upstream_headers(proxy, scope, caller, service, url)
    if service == "reports":
        try:
            client_hash = scope["state"].get(CLIENT_HASH_STATE) or \
                await day_client_hash(proxy.redis, proxy.clock, client_ip(scope))
            headers.append((_CLIENT_HASH_HEADER_RAW, client_hash.encode()))
        except ProxyProblem as p:
            await _send_problem(scope, receive, send, p.status, p.detail, p.slug, p.headers)
            return
    length = next((v for k, v in headers if k == b"content-length"), None)
    has_body = (method not in ("GET", "HEAD", "OPTIONS", "DELETE") or length is not None) and \
        not (length is not None and length.strip() == b"0")
    try:
        response = await proxy.upstream.request(method, url, headers,
                                             _request_body(receive) if has_body else None,
                                             timeout=proxy.settings.proxy_timeout_s)
    except UpstreamTimeout:
        await _send_problem(scope, receive, send, 504, "The service did not answer in time.", "upstream-timeout")
        return
    except UpstreamError:
        log.warning("proxy.upstream_unreachable", service=service)
        await _send_problem(scope, receive, send, 503, "The service is unavailable. Please try again in a moment.",
                            "upstream-unavailable", retry_after())
        return
    try:
        out = proxied_response_headers(response.headers, DROP_RESPONSE)
        length = next((v for k, v in response.headers if k.lower() == b"content-length"), None)
        if length is not None:  # bytes are relayed as the service encoded them, so its length holds
            out.append((b"content-length", length))
        scope["state"][_STARTED] = True
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        if method == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        whole = response.whole_body()
        if whole is not None:  # the service's answer came in with its head (the common, small case)
            await send({"type": "http.response.body", "body": whole, "more_body": False})
            return
        # With a known length the chunk that completes it goes out marked as the last (one send fewer).
        left = int(length) if length is not None and length.isdigit() else -1
        finished = False
        async for chunk in response.body():
            left -= len(chunk) if left >= 0 else 0
            finished = left == 0
            await send({"type": "http.response.body", "body": chunk, "more_body": not finished})
        if not finished:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (UpstreamError, OSError):
        # Headers are gone already: all we can do is cut the connection so the client sees a truncation.
        log.warning("proxy.upstream_broke", service=service)
        raise
    finally:
        await response.aclose()


async def _proxy_ws(proxy: Proxy, scope: Scope, receive: Receive, send: Send) -> None:
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    try:
        service, path = _split(scope)
        # Cross-site WebSocket hijacking: browsers send Origin, and it must be ours.
        origin = dict(scope.get("headers", [])).get(b"origin")
        if origin is not None and origin.decode("latin-1") != proxy.settings.issuer:
            raise ProxyProblem(403, "Cross-origin WebSocket refused.", "origin")
        caller = await _authorize(proxy, scope, _auth_headers(scope))
    except (ProxyProblem, HTTPException) as exc:
        log.info("proxy.ws_refused", status=getattr(exc, "status", getattr(exc, "status_code", 0)))
        await send({"type": "websocket.close", "code": 1008})
        return
    except Exception as exc:
        if not dependency_down(exc):
            raise
        await _ws_unavailable(scope, send, exc)
        return
    base = proxy.settings.upstream(service)
    url = ("wss://" if base.startswith("https") else "ws://") + base.split("://", 1)[1] + path
    query = scope.get("query_string", b"")
    if query:
        url += "?" + query.decode("latin-1")
    try:
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, v in _upstream_headers(proxy, scope, caller, service, url) if k != b"content-length"]
    except Exception as exc:
        if not dependency_down(exc):
            raise
        await _ws_unavailable(scope, send, exc)
        return
    subprotocols = scope.get("subprotocols") or None
    try:
        upstream = await websockets.connect(url, additional_headers=headers, subprotocols=subprotocols,
                                            max_size=WS_MAX_MESSAGE, open_timeout=10, compression=None,
                                            user_agent_header=None)
    except (InvalidStatus, WebSocketException, OSError, TimeoutError) as exc:
        status = exc.response.status_code if isinstance(exc, InvalidStatus) else 0
        log.info("proxy.ws_upstream_refused", service=service, status=status)
        if (status == 0 and not isinstance(exc, WebSocketException)) or status >= 500:  # down, or its own outage
            await _ws_unavailable(scope, send, exc)
        else:
            await send({"type": "websocket.close", "code": 1008 if status in (401, 403) else 1011})
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
    with proxy.live.track(caller.user_id, caller.sid) as revoked:
        await _relay(upstream, receive, send, revoked)


async def _ws_unavailable(scope: Scope, send: Send, exc: BaseException) -> None:
    log.warning("proxy.dependency_unavailable", exc_type=type(exc).__name__, path=scope.get("path"))
    await deny_websocket(scope, send, 503, OUTAGE_DETAIL, "unavailable", retry_after())


async def _relay(upstream: ClientConnection, receive: Receive, send: Send, revoked: Revocation) -> None:
    async def client_to_upstream() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close(code=message.get("code", 1000) if message.get("code") in (1000, 1001) else 1000)
                return
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])

    async def upstream_to_client() -> None:
        try:
            async for data in upstream:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed:
            pass
        code = upstream.close_code or 1000
        reason = upstream.close_reason or ""
        with contextlib.suppress(Exception):  # the client may be gone already
            await send({"type": "websocket.close", "code": code if code != 1006 else 1011, "reason": reason})

    async def until_revoked() -> None:
        await revoked.wait()
        log.info("proxy.ws_revoked", cause=revoked.cause)
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": 1008, "reason": "signed out"})
            # 4401: the service ends the call for both members, not a mere drop; the reason names the cause.
            await upstream.close(code=4401, reason=revoked.cause)

    tasks = [asyncio.create_task(client_to_upstream()), asyncio.create_task(upstream_to_client()),
             asyncio.create_task(until_revoked())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError, RuntimeError):
                await task
        await upstream.close()


class ProxyFront:
    """The gateway's ASGI entry for `/api/...`, ahead of Litestar's router and per-route middleware.

    Installed as the app's `asgi_handler`: everything that is not `/api/...` goes on to Litestar with the
    security headers added to whatever it sends (router 404s and error pages included). A relayed response
    gets them in the same pass over its head that drops the service's hop-by-hop headers
    (`proxied_response_headers`), and its messages go straight to the server. The proxy is raw ASGI
    anyway, and a relay that is paid on every request should not also pay for routing and dependency
    machinery it never uses. Request ids, the request log line and metrics come from the same
    `ObservabilityMiddleware` every service uses; an unexpected failure before the response has started
    becomes a 500 problem (type only in the log, as `shared.http` does).
    """

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.observed = ObservabilityMiddleware(self._proxy, metrics)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith("/api/"):
            await self.observed(scope, receive, send)  # type: ignore[arg-type]
        else:
            await self.app(scope, receive, secured(send, scope))

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        proxy: Proxy = scope["app"].state.context.proxy
        try:
            if scope["type"] == "websocket":
                await _proxy_ws(proxy, scope, receive, send)
            else:
                await _proxy_http(proxy, scope, receive, send)
        except Exception as exc:
            if scope["state"].get(_STARTED) or scope["type"] != "http":
                raise  # mid-stream: only cutting the connection is left (the server does that)
            if dependency_down(exc):  # Redis or the database is down: a 503 to try again, never a 500
                log.warning("proxy.dependency_unavailable", exc_type=type(exc).__name__, path=scope.get("path"))
                await _send_problem(scope, receive, send, 503, OUTAGE_DETAIL, "unavailable", retry_after())
                return
            log.error("http.unhandled_exception", exc_type=type(exc).__name__, path=scope.get("path"))
            await _send_problem(scope, receive, send, 500, "An unexpected error occurred. It has been logged.",
                                "internal-error")
