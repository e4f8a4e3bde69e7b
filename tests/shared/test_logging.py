"""Logs are JSON and never carry note text, tokens, passwords or keys, even when a handler logs them."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from services.sessions.adapters.db import outbox
from services.sessions.config import Settings
from shared.logging import configure_logging, get_logger
from shared.service import build_app
from tests.support.identity import TestIssuer

CANARY = "Patient Jane Doe NHS 943 476 5919 told me in confidence"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", json=True, stream=stream, service="test")
    yield stream


class NoteIn(msgspec.Struct):
    text: str
    pairing_id: str


@post("/notes-demo", sync_to_thread=False)
def save_note(data: JSONBody[NoteIn]) -> dict[str, str]:
    log = get_logger("demo")
    # Careless calls a future handler might make: the redactor must catch every one.
    log.info("note.saved", text=data.text, pairing_id=data.pairing_id)
    log.info("note.debug", payload={"note": data.text, "nested": {"body": data.text}}, token="secret-token")
    log.warning("auth.debug", password="hunter2", access_token="at-123", dek=b"\x00" * 32, s3_secret_key="sk")
    return {"status": "saved"}


async def test_handler_log_calls_never_emit_sensitive_values(log_stream: io.StringIO, tmp_path: Path,
                                                             redis_url: str, issuer: TestIssuer) -> None:
    # SQLite whatever the run's backend: the subject is the log redactor, the database is incidental.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", redis_url=redis_url,
                        jwks_file=str(issuer.jwks_path))
    app = build_app(name="sessions", settings=settings, route_handlers=[save_note],
                    migrations_dir=Path("services/sessions/migrations"), outbox_table=outbox)
    async with issuer.bind(AsyncTestClient(app)) as client:
        resp = await client.post("/notes-demo?token=query-secret", json={"text": CANARY, "pairing_id": "p1"},
                                 headers=issuer.headers("u1", ["mentor"], "sessions"))
        assert resp.status_code == 201
        bad = await client.post("/notes-demo", json={"text": 5, "pairing_id": CANARY},
                                headers=issuer.headers("u1", ["mentor"], "sessions"))
        assert bad.status_code == 400
        assert CANARY not in bad.text, "validation errors must not echo submitted values"
    output = log_stream.getvalue()
    records: list[dict[str, Any]] = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    events = {r["event"] for r in records}
    assert {"note.saved", "note.debug", "auth.debug", "http.request"} <= events
    for needle in (CANARY, "Jane Doe", "secret-token", "hunter2", "at-123", "query-secret", "sk\""):
        assert needle not in output, needle
    saved = next(r for r in records if r["event"] == "note.saved")
    assert saved["text"] == "[redacted]" and saved["pairing_id"] == "p1"
    req = next(r for r in records if r["event"] == "http.request" and r["status"] == 201)
    assert req["path"] == "/notes-demo" and "request_id" in req


def test_values_json_has_no_type_for_are_written_as_their_repr(log_stream: io.StringIO) -> None:
    """A dataclass is never spelled out field by field (a repr that hides a secret keeps hiding it);
    bytes only show their length; keys of any type come out as strings."""
    import dataclasses
    import datetime

    @dataclasses.dataclass
    class Config:
        url: str
        password: str

        def __repr__(self) -> str:
            return f"Config(url={self.url!r}, password=***)"

    get_logger("demo").info("configured", config=Config("postgresql://db", CANARY), blob=CANARY.encode(),
                            at=datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC), counts={1: "one", (2, 3): 5},
                            roles=("mentor", 7, None))
    text = log_stream.getvalue()
    assert CANARY not in text
    line = json.loads(text.splitlines()[-1])
    assert line["config"] == "Config(url='postgresql://db', password=***)"
    assert line["blob"] == f"[{len(CANARY.encode())} bytes]"
    assert line["at"].startswith("datetime.datetime(2026, 11, 23")
    assert line["counts"] == {"1": "one", "(2, 3)": 5} and line["roles"] == ["mentor", 7, None]
    assert line["event"] == "configured" and line["logger"] == "demo" and line["level"] == "info"


async def test_refused_requests_are_logged_with_the_status_the_client_got(
        log_stream: io.StringIO, tmp_path: Path, redis_url: str, issuer: TestIssuer) -> None:
    """The assertion wall's 401 used to pass through the request log as an exception: logged 500."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", redis_url=redis_url,
                        jwks_file=str(issuer.jwks_path))
    app = build_app(name="sessions", settings=settings, route_handlers=[save_note],
                    migrations_dir=Path("services/sessions/migrations"), outbox_table=outbox)
    async with AsyncTestClient(app) as client:
        for headers in ({}, {"tandem-assertion": "forged"}, issuer.headers("u1", ["mentor"], "sessions")):
            r = await client.post("/notes-demo", json={"text": "x", "pairing_id": "p"},
                                  headers={**headers, "x-request-id": "refused-1"})
            assert r.status_code == 401 and r.headers["x-request-id"] == "refused-1"
        metrics = (await client.get("/metrics")).text
    records = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.startswith("{")]
    statuses = [r["status"] for r in records if r["event"] == "http.request"]
    assert statuses == [401, 401, 401]
    assert 'tandem_http_requests_total{method="POST",service="sessions",status="401"} 3.0' in metrics
    assert 'status="500"' not in metrics
