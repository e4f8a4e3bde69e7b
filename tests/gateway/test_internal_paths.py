"""Probes, metrics and the OpenAPI schema of the internal services are for the orchestrator's network
only: the proxy refuses them for every caller and in every spelling a router might still take there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from services.gateway.app import create_app
from tests.support.databases import Databases
from tests.support.gateway import Browser, Clock, Harness, insecure_fast_argon2_settings
from tests.support.gateway_stack import SERVICES, GatewayStack, gateway_stack
from tests.support.servers import serve

pytestmark = pytest.mark.integration

# Each services' own path, then the variants: trailing slash, repeated and leading slashes, case, dot
# segments plain and encoded, encoded letters and slashes, path parameters, what follows the probe.
INTERNAL = ("/metrics", "/healthz", "/readyz", "/schema", "/schema/openapi.json")
VARIANTS = ("{p}", "{p}/", "/{p}", "//{p}", "{P}", "/.{p}", "/%2e{p}", "/%2E{p}", "/x/..{p}", "/x/%2e%2e{p}",
            "/%2F{p}", "{q}", "{p};x", "{p}%20", "/%20{r}", "{p}?x=1")


def spellings(path: str) -> list[str]:
    encoded = "/%" + format(ord(path[1]), "02x") + path[2:]  # first letter percent-encoded
    return sorted({v.format(p=path, P=path.upper(), q=encoded, r=path[1:]) for v in VARIANTS})


@pytest.fixture
async def stack(tmp_path: Path, redis_url: str, gateway_db: Callable[..., str], database_url: Databases,
                clock: Clock) -> AsyncIterator[GatewayStack]:
    async with gateway_stack(tmp_path, gateway_db(), redis_url, database_url, clock) as s:
        yield s


async def test_probes_metrics_and_schema_are_never_proxied(stack: GatewayStack) -> None:
    h = stack.h
    callers: dict[str, dict[str, str]] = {"nobody": {}}
    for role in ("mentee", "mentor", "admin", "safeguarding"):
        browser: Browser = await h.user(f"{role}@example.org", [role])
        callers[role] = browser.headers(csrf=False)
    async with httpx.AsyncClient(timeout=10) as direct:
        for service in SERVICES:
            # The service itself does serve them (to its own network), so a refusal below is the proxy's.
            assert (await direct.get(stack.direct[service] + "/metrics")).status_code == 200
            assert (await h.client.get(f"/api/{service}/whoami", headers=callers["mentee"])).status_code == 200
    leaks = []
    for service in SERVICES:
        for path in INTERNAL:
            for spelling in spellings(path):
                for who, headers in callers.items():
                    r = await h.client.get(f"/api/{service}{spelling}", headers=headers)
                    refused = r.status_code in (400, 404) and \
                        r.headers.get("content-type", "").startswith("application/problem+json") and \
                        "tandem_http_requests" not in r.text and "openapi" not in r.text
                    if not refused:
                        leaks.append((service, spelling, who, r.status_code))
    assert leaks == []


async def test_ordinary_paths_that_merely_contain_the_names_still_pass(stack: GatewayStack) -> None:
    h = stack.h
    mentee = await h.user("m@example.org", ["mentee"])
    # Refusal is by the first segment only: a service's own route further down is not affected.
    r = await h.client.get("/api/records/whoami/metrics", headers=mentee.headers(csrf=False))
    assert r.status_code == 404 and "tandem_http_requests" not in r.text  # the service's own 404
    assert (await h.client.get("/api/records/whoami", headers=mentee.headers(csrf=False))).status_code == 200


@pytest.mark.parametrize("token", ["", "scrape-token-5ecret"])
async def test_the_gateways_own_metrics_are_only_for_the_scraper(
        tmp_path: Path, redis_url: str, gateway_db: Callable[..., str], clock: Clock, token: str) -> None:
    """The gateway's listener is the public one: its `/metrics` answers only the bearer token the scraper
    holds, and nobody when none is configured; signed-in people are nobody here."""
    app = create_app(insecure_fast_argon2_settings(gateway_db(), redis_url, metrics_token=token), clock=clock,
                     run_consumers=False)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        harness = Harness(app, client, clock, app.state.settings, url=url)
        admin = await harness.user("admin@example.org", ["admin"])
        for headers in ({}, admin.headers(csrf=False), {"authorization": "Bearer wrong"},
                        {"authorization": f"Basic {token or 'x'}"}, {"authorization": "Bearer"}):
            r = await client.get("/metrics", headers=headers)
            assert r.status_code == 404 and "tandem_http_requests" not in r.text, headers
            assert r.headers["content-type"].startswith("application/problem+json")
        if token:
            # A method a client invents is counted as OTHER: no series (nor client text) per invention.
            await client.request("PROPFIND", "/api/records/whoami", headers=admin.headers(csrf=False))
            r = await client.get("/metrics", headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200 and "tandem_http_requests" in r.text
            assert "PROPFIND" not in r.text and 'method="OTHER"' in r.text
        assert (await client.get("/healthz")).status_code == 200  # liveness stays open for the kubelet
