"""Every service app: probes, metrics, OpenAPI, problem+json, and the assertion wall."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import OKPKey
from litestar.testing import AsyncTestClient

from deploy.local.children import S3Child
from services.gateway.app import create_app as gateway_app
from services.gateway.config import Settings as GatewaySettings
from services.records.app import create_app as records_app
from services.records.config import Settings as RecordsSettings
from services.reports.app import create_app as reports_app
from services.reports.config import Settings as ReportsSettings
from services.sessions.app import create_app as sessions_app
from services.sessions.config import Settings as SessionsSettings
from tests.support.identity import TestIssuer

pytestmark = pytest.mark.integration

INTERNAL = ["sessions", "records", "reports"]


def make_app(name: str, tmp_path: Path, db_url: str, redis_url: str, s3: S3Child, issuer: TestIssuer):  # type: ignore[no-untyped-def]
    common: dict[str, Any] = {"database_url": db_url, "redis_url": redis_url,
                              "jwks_file": str(issuer.jwks_path), "log_json": True}
    store = {"s3_endpoint": s3.endpoint, "s3_access_key": s3.access_key, "s3_secret_key": s3.secret_key}
    if name == "records":
        return records_app(RecordsSettings(**common, **store, keyring_path=str(tmp_path / "rk.json"),
                                           audit_key_dir=str(tmp_path / "audit")))
    if name == "reports":
        return reports_app(ReportsSettings(**common, **store, keyring_path=str(tmp_path / "pk.json")))
    if name == "sessions":
        return sessions_app(SessionsSettings(**common, keyring_path=str(tmp_path / "sk.json")))
    return gateway_app(GatewaySettings(**common))


@pytest.fixture(params=INTERNAL)
async def internal(request: pytest.FixtureRequest, tmp_path: Path, db_url: str, redis_url: str, s3_server: S3Child,
                   issuer: TestIssuer) -> AsyncIterator[tuple[str, AsyncTestClient[Any]]]:
    app = make_app(request.param, tmp_path, db_url, redis_url, s3_server, issuer)
    async with issuer.bind(AsyncTestClient(app)) as client:
        yield request.param, client


async def test_probes_metrics_and_schema(internal: tuple[str, AsyncTestClient[Any]]) -> None:
    name, client = internal
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "tandem_http_requests_total" in metrics.text
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["info"]["title"] == f"Tandem {name}"
    assert "/healthz" in schema["paths"]


@pytest.mark.sqlite_pass_only(reason="the assertion wall answers before any SQL: the same on every backend")
async def test_requests_without_valid_assertion_are_401(internal: tuple[str, AsyncTestClient[Any]],
                                                        issuer: TestIssuer) -> None:
    name, client = internal
    other = OKPKey.generate_key("Ed25519", parameters={"kid": issuer.key.kid})  # same kid, wrong key
    unknown = OKPKey.generate_key("Ed25519", parameters={"kid": "unknown-kid"})
    old = int(time.time()) - 600
    cases = {
        "missing": {},
        "garbage": {"tandem-assertion": "not-a-jwt"},
        "expired": issuer.headers("u1", ["mentee"], name, iat=old),
        "wrong audience": issuer.headers("u1", ["mentee"], "gateway"),
        "wrong key": issuer.headers("u1", ["mentee"], name, key=other),
        "unknown kid": issuer.headers("u1", ["mentee"], name, key=unknown),
        "too long-lived": issuer.headers("u1", ["mentee"], name, lifetime=3600),
        "alg none": {"tandem-assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9."},
        "forged headers only": {"x-user-id": "admin", "x-roles": "admin", "authorization": "Bearer x"},
    }
    for label, headers in cases.items():
        resp = await client.get("/whoami", headers=headers)
        assert resp.status_code == 401, label
        assert resp.headers["content-type"].startswith("application/problem+json"), label
        assert resp.json()["status"] == 401
    ok = await client.get("/whoami", headers=issuer.headers("u1", ["mentee", "bogus-role"], name))
    assert ok.status_code == 200
    assert ok.json()["sub"] == "u1" and ok.json()["roles"] == ["mentee"]
    assert ok.headers["x-request-id"]
    missing = await client.get("/no-such-route", headers=issuer.headers("u1", ["mentee"], name))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


@pytest.mark.sqlite_pass_only(reason="request ids are HTTP middleware: the same on every backend")
async def test_request_id_is_propagated(internal: tuple[str, AsyncTestClient[Any]]) -> None:
    _, client = internal
    resp = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    resp = await client.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert resp.headers["x-request-id"] != "bad id with spaces"


async def test_gateway_app_starts(tmp_path: Path, db_url: str, redis_url: str, s3_server: S3Child,
                                  issuer: TestIssuer) -> None:
    async with AsyncTestClient(make_app("gateway", tmp_path, db_url, redis_url, s3_server, issuer)) as client:
        assert (await client.get("/readyz")).status_code == 200


async def test_readyz_reports_a_broken_dependency(tmp_path: Path, db_url: str, s3_server: S3Child,
                                                  issuer: TestIssuer) -> None:
    app = make_app("sessions", tmp_path, db_url, "redis://127.0.0.1:1/0", s3_server, issuer)
    async with AsyncTestClient(app) as client:
        resp = await client.get("/readyz")
        assert resp.status_code == 503
        assert resp.json()["checks"]["redis"].startswith("failed")
        assert resp.json()["checks"]["database"] == "ok"
