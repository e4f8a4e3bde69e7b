"""HTTP pieces every service uses: problem+json errors (RFC 9457), request ids and request logs,
Prometheus metrics, the identity-assertion middleware and role guards."""

from __future__ import annotations

import re
import time
import uuid
from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.identity import (
    ASSERTION_HEADER,
    WEBSOCKET_METHOD,
    AssertionCheckUnavailable,
    AssertionVerifier,
    Identity,
    InvalidAssertion,
    request_target,
)
from shared.logging import get_logger
from shared.outage import DETAIL as OUTAGE_DETAIL
from shared.outage import RETRY_AFTER_S, dependency_down

log = get_logger("tandem.http")

PROBLEM = "application/problem+json"
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics", "/schema")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# -- problem+json ---------------------------------------------------------------------------------------


class Problem(HTTPException):
    """An HTTP error rendered as problem+json; subclasses fix the status and a `type` slug."""

    status_code = 400
    slug = "bad-request"

    def __init__(self, detail: str = "", *, slug: str | None = None, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail=detail or HTTPStatus(self.status_code).phrase, extra=extra, headers=headers)
        if slug:
            self.slug = slug


class BadRequest(Problem):
    status_code, slug = 400, "bad-request"


class Unauthorized(Problem):
    status_code, slug = 401, "unauthorized"


class Forbidden(Problem):
    status_code, slug = 403, "forbidden"


class NotFound(Problem):
    status_code, slug = 404, "not-found"


class Conflict(Problem):
    status_code, slug = 409, "conflict"


class Gone(Problem):
    status_code, slug = 410, "gone"


class PayloadTooLarge(Problem):
    status_code, slug = 413, "payload-too-large"


class Unprocessable(Problem):
    status_code, slug = 422, "unprocessable"


class TooManyRequests(Problem):
    status_code, slug = 429, "too-many-requests"


class ServiceUnavailable(Problem):
    status_code, slug = 503, "unavailable"


def whole_seconds(seconds: float) -> int:
    """`seconds` as whole seconds rounded up (a millisecond of float noise aside); 0 for a wait that is over."""
    return max(0, int(seconds + 0.999))


def retry_after(seconds: float = RETRY_AFTER_S) -> dict[str, str]:
    """The Retry-After header asking a client to wait `seconds` (rounded up, at least 1). The default is
    the wait after an outage of a dependency (shared.outage)."""
    return {"retry-after": str(max(1, whole_seconds(seconds)))}


def problem_response(status: int, detail: str, *, slug: str | None = None, extra: dict[str, Any] | None = None,
                     headers: dict[str, str] | None = None, instance: str | None = None) -> Response[Any]:
    body: dict[str, Any] = {
        "type": f"https://tandem.invalid/problems/{slug or HTTPStatus(status).phrase.lower().replace(' ', '-')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return Response(content=body, status_code=status, media_type=PROBLEM, headers=headers)


def _http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    slug = getattr(exc, "slug", None)
    extra: dict[str, Any] | None = None
    if isinstance(exc, ValidationException):
        slug = "validation-error"
        errors = exc.extra if isinstance(exc.extra, list) else []
        # Only where and what: never echo the submitted value (it may be a note or a password).
        extra = {"errors": [{"key": e.get("key"), "source": e.get("source"), "message": e.get("message")}
                            for e in errors if isinstance(e, dict)]}
    elif isinstance(exc, Problem) and isinstance(exc.extra, dict):
        extra = exc.extra
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    return problem_response(status, detail, slug=slug, extra=extra, headers=exc.headers,
                            instance=request.scope.get("path"))


# PostgreSQL refuses text holding NUL (SQLSTATE 22021; 22P05 in JSON) where SQLite stores it: the
# request's input is at fault (e.g. a path id `%00`), so it is a 400 on every backend, never a 500.
_BAD_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


def _is_bad_text(exc: Exception) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _BAD_TEXT_SQLSTATES


def _unexpected_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _is_bad_text(exc):
        log.info("http.bad_text_input", path=request.scope.get("path"))
        return problem_response(400, "Text must not contain NUL characters.", slug="invalid-text",
                                instance=request.scope.get("path"))
    if dependency_down(exc):  # Redis, a database or another service is down: 503 + Retry-After, never 500
        log.warning("http.dependency_unavailable", exc_type=type(exc).__name__, path=request.scope.get("path"))
        return problem_response(503, OUTAGE_DETAIL, slug="unavailable", headers=retry_after())
    # The exception text may quote plaintext or keys: only its type reaches the log.
    log.error("http.unhandled_exception", exc_type=type(exc).__name__, path=request.scope.get("path"))
    return problem_response(500, "An unexpected error occurred. It has been logged.", slug="internal-error")


EXCEPTION_HANDLERS: dict[Any, Any] = {HTTPException: _http_exception_handler, Exception: _unexpected_handler}


# -- observability ----------------------------------------------------------------------------------------


METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "WS"})


class Metrics:
    """Per-app Prometheus registry (several apps can live in one test process)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("tandem_http_requests", "HTTP requests handled", ["service", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("tandem_http_request_duration_seconds", "HTTP request duration",
                                 ["service", "method"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.service = service


class ObservabilityMiddleware:
    """Request id (propagated from `x-request-id` or generated), one structured log line per request
    (path without query string), and request metrics, all with the status the client really got.

    A failure raised before the response started (e.g. the assertion middleware's 401, or its 503 when
    Redis is down) is answered here, with the app's own problem+json handlers, so the log line and the
    metrics carry that status (before, the exception passed through this middleware on its way to
    Litestar's outer handler and was logged as 500). A WebSocket's line says how its handshake ended
    (`handshake`: accepted, or rejected with the HTTP status the client got: 403 when the app closed
    before accepting, as ASGI servers answer, or the status of a denial response) and its `close_code`.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Bound at the first request (logging is configured by then): the module-level lazy proxy would
        # rebuild its logger for every request line, which costs more than writing the line.
        self.log: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        websocket = str(scope["type"]) == "websocket"
        status: int | None = None  # None: nothing was answered (the client went away first)
        close_code: int | None = None
        accepted = False

        async def _send(message: Any) -> None:  # (Litestar's TypedDicts: one per message kind)
            nonlocal status, close_code, accepted
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            elif kind == "websocket.accept":
                status, accepted = 101, True
            elif kind == "websocket.close" and close_code is None:
                close_code = message.get("code", 1000)
                if not accepted:
                    status = 403  # closed before accepting: the server refuses the handshake with 403
            await send(message)

        async def _receive() -> Any:
            nonlocal close_code
            message = await receive()
            if message["type"] == "websocket.disconnect" and close_code is None:
                close_code = message.get("code", 1005)
            return message

        try:
            try:
                await self.app(scope, _receive if websocket else receive, _send)
            except Exception as exc:
                if status is not None or (websocket and accepted):
                    if websocket and close_code is None:
                        close_code = 1011  # the server closes an accepted socket whose app failed
                    raise  # mid-response: only cutting the connection is left
                await self._refuse(scope, receive, _send, exc)
        finally:
            elapsed = time.perf_counter() - start
            method = scope.get("method", "WS")
            path = scope.get("path", "")
            if path not in ("/healthz", "/readyz", "/metrics"):
                if self.log is None:
                    self.log = log.bind()
                if websocket:
                    self.log.info("http.request", method=method, path=path, status=status,
                                  handshake="accepted" if accepted else "rejected", close_code=close_code,
                                  duration_ms=round(elapsed * 1000, 2))
                else:
                    self.log.info("http.request", method=method, path=path, status=status,
                                  duration_ms=round(elapsed * 1000, 2))
            # A label value per method a client may invent would be a series per invention (the gateway's
            # listener is public): anything outside the standard methods counts as OTHER.
            label = method if method in METRIC_METHODS else "OTHER"
            self.metrics.requests.labels(self.metrics.service, label,
                                         "aborted" if status is None else str(status)).inc()
            self.metrics.latency.labels(self.metrics.service, label).observe(elapsed)
            structlog.contextvars.unbind_contextvars("request_id")

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Any, exc: Exception) -> None:
        """Answer a failure raised before any response, as the app's exception handlers would."""
        request: Request[Any, Any, Any] = Request(scope, receive)
        response = (_http_exception_handler(request, exc) if isinstance(exc, HTTPException)
                    else _unexpected_handler(request, exc))
        if str(scope["type"]) == "websocket":
            if "websocket.http.response" not in (scope.get("extensions") or {}):
                # No denial responses on this server: a close before accepting (the client sees 403).
                await send({"type": "websocket.close", "code": 4000 + (response.status_code or 500)})
                return
            # The denial-response extension: the client gets the real status and problem body.
            body = msgspec.json.encode(response.content)
            headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode())]
            headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
            await send({"type": "websocket.http.response.start", "status": response.status_code,
                        "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await response.to_asgi_response(app=None, request=request)(scope, receive, send)


# -- identity ---------------------------------------------------------------------------------------------


class AssertionMiddleware(AbstractAuthenticationMiddleware):
    """Every request but the probes needs a valid gateway assertion minted for this very request and not
    used before; anything else is 401. When its single use cannot be checked (Redis down) it is 503."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        verifier: AssertionVerifier = connection.app.state.verifier
        token = connection.headers.get(ASSERTION_HEADER)
        scope = connection.scope
        method = WEBSOCKET_METHOD if str(scope["type"]) == "websocket" else str(scope.get("method", ""))
        # (A raw path never holds "?": some test transports leave the query on it.)
        raw_path = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
        target = request_target(raw_path.decode("latin-1"), scope.get("query_string", b"").decode("latin-1"))
        try:
            identity = await verifier.verify(token, method=method, target=target)
        except InvalidAssertion as exc:
            log.info("auth.assertion_rejected", cause=str(exc), path=scope.get("path"))  # ("reason" is redacted)
            raise NotAuthorizedException(detail="A valid identity assertion is required.") from None
        except AssertionCheckUnavailable as exc:
            log.warning("auth.assertion_check_unavailable", exc_type=str(exc), path=scope.get("path"))
            raise ServiceUnavailable("Please try again in a moment.", headers=retry_after(1)) from None
        structlog.contextvars.bind_contextvars(actor=identity.sub)
        return AuthenticationResult(user=identity, auth=token)


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    user = connection.scope.get("user")
    if not isinstance(user, Identity):
        raise NotAuthorizedException(detail="A valid identity assertion is required.")
    return user


def require_roles(*roles: str) -> Any:
    """Guard: the caller must hold one of `roles`."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        if not identity_of(connection).has(*roles):
            raise PermissionDeniedException(detail="Your role does not allow this.")

    guard.__name__ = f"require_{'_or_'.join(roles)}"
    return guard
