"""Operator commands: bootstrap the first admin, register clients, rotate keys."""

from __future__ import annotations

import json

import pytest

from services.gateway.cli import parser, run
from services.gateway.config import Settings

pytestmark = pytest.mark.integration


def _last(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    # Unconfigured structlog also writes to stdout here; `main()` sends logs to stderr.
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def test_bootstrap_admin_and_clients(gw_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["bootstrap-admin", "--email", "first@example.org", "--name", "First"])
    assert await run(args, gw_settings) == 0
    out = _last(capsys)
    assert out["invitation_url"].startswith(f"{gw_settings.issuer}/invitation#token=")
    assert await run(args, gw_settings) == 1  # only once, unless forced
    capsys.readouterr()
    args = parser().parse_args(["create-client", "--name", "recorder", "--client-id", "sessions-recorder",
                                "--grant", "client_credentials", "--scope", "api"])
    assert await run(args, gw_settings) == 0
    created = _last(capsys)
    assert created["client_id"] == "sessions-recorder" and len(created["client_secret"]) >= 40
    bad = parser().parse_args(["create-client", "--name", "x", "--grant", "client_credentials", "--public"])
    assert await run(bad, gw_settings) == 2
    rotate = parser().parse_args(["rotate-keys", "assertion"])
    assert await run(rotate, gw_settings) == 0
    assert _last(capsys)["kid"].startswith("a-")


async def test_client_with_a_provisioned_secret(gw_settings: Settings, capsys: pytest.CaptureFixture[str],
                                                tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Deployments write the recorder's secret file first; the client is then registered with it."""
    secret_file = tmp_path / "recorder-secret"
    secret_file.write_text("s" * 40 + "\n")
    args = parser().parse_args(["create-client", "--name", "recorder", "--client-id", "tandem-recorder",
                                "--grant", "client_credentials", "--scope", "api",
                                "--client-secret-file", str(secret_file)])
    assert await run(args, gw_settings) == 0
    assert _last(capsys) == {"client_id": "tandem-recorder", "client_secret": None}
    short = tmp_path / "short"
    short.write_text("too-short")
    again = parser().parse_args(["create-client", "--name", "r2", "--grant", "client_credentials",
                                 "--client-secret-file", str(short)])
    assert await run(again, gw_settings) == 2
    from services.gateway.cli import gateway

    async with gateway(gw_settings) as gw:
        client = await gw.oauth_clients.authenticate({"client_id": "tandem-recorder", "client_secret": "s" * 40}, None)
        assert client.client_id == "tandem-recorder"
