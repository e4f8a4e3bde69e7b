"""Structured JSON logging with a redaction processor.

Sensitive fields never reach a log line: any event-dict key (at any depth) whose name is in
`REDACTED_KEYS`, or ends with one of `REDACTED_SUFFIXES`, is replaced by "[redacted]". Uvicorn's access log
is replaced by our own request log, which records the path without its query string (query strings
carry OAuth codes and tokens).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import msgspec
import structlog

REDACTED = "[redacted]"
REDACTED_KEYS = frozenset({
    "text", "body", "content", "note", "plaintext", "report", "message_text",
    "token", "access_token", "refresh_token", "id_token", "code", "code_verifier", "assertion",
    "password", "passphrase", "secret", "client_secret", "key", "dek", "kek", "private_key",
    "authorization", "cookie", "set-cookie", "receipt", "otp", "totp", "media", "data",
    "reason", "email", "query",
})
REDACTED_SUFFIXES = ("_token", "_secret", "_password", "_key", "_text", "_body", "_receipt")


_SENSITIVE: dict[str, bool] = {}  # key name -> verdict: a log line has few distinct keys, seen again and again
_PLAIN = (str, int, float, bool, type(None))
_UNTOUCHED = frozenset({"event", "_record", "_from_structlog"})  # the message, and structlog's own bookkeeping


def _is_sensitive(name: str) -> bool:
    verdict = _SENSITIVE.get(name)
    if verdict is None:
        low = name.lower()
        verdict = low in REDACTED_KEYS or low.endswith(REDACTED_SUFFIXES)
        if len(_SENSITIVE) < 10_000:
            _SENSITIVE[name] = verdict
    return verdict


def _scrub(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Mapping):
        return {str(k): (REDACTED if _is_sensitive(str(k)) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return f"[{len(value)} bytes]"
    if isinstance(value, str | int | float):
        return value
    # Anything else (dataclasses, settings, records, dates...) is written as its repr(), never field by
    # field: a repr that hides a secret keeps hiding it.
    return repr(value)


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop the values of sensitive keys, wherever they are nested."""
    for key, value in event_dict.items():
        if key in _UNTOUCHED:
            continue
        if _is_sensitive(key):
            event_dict[key] = REDACTED
        elif type(value) not in _PLAIN:
            event_dict[key] = _scrub(value)
    return event_dict


def _drop_exception_locals(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Tracebacks can quote arguments (plaintext, keys): keep only the exception type in logs.
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            event_dict["exc_type"] = type(exc_info).__name__
        elif isinstance(exc_info, tuple) and exc_info[0] is not None:
            event_dict["exc_type"] = exc_info[0].__name__
    event_dict.pop("exception", None)
    event_dict.pop("stack_info", None)
    return event_dict


_ENCODER = msgspec.json.Encoder(enc_hook=repr)  # `redact` has made every value JSON already; repr() just in case


def _json(event_dict: Mapping[str, Any], **_: Any) -> str:
    return _ENCODER.encode(event_dict).decode()


def configure_logging(level: str = "info", *, json: bool = True, stream: TextIO | None = None,
                      service: str | None = None) -> None:
    """Configure structlog and the stdlib root logger (uvicorn, alembic) to emit one JSON object a line."""
    out = stream or sys.stdout
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_exception_locals,
        redact,
    ]
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    renderer: Any = structlog.processors.JSONRenderer(serializer=_json) if json else \
        structlog.dev.ConsoleRenderer(colors=False)
    # The logging HOWTO's "Optimization": no record needs its caller's file and line, thread or process
    # (the JSON line never shows them), and finding them costs more than writing the line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    numeric = getattr(logging, level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Uvicorn's access log would print query strings; our middleware logs requests instead.
    logging.getLogger("uvicorn.access").disabled = True
    # Loggers that would print SQL parameters, request URLs or media details at debug level.
    for noisy in ("aioice", "aiortc", "asyncio", "httpx", "httpcore", "urllib3", "aiosqlite", "sqlalchemy",
                  "asyncpg", "websockets", "multipart", "minio"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
