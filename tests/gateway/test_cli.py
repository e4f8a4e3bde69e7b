"""Operator commands: bootstrap the first admin, register clients, rotate keys."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from deploy.local.children import free_port
from services.gateway.accounts.tables import users
from services.gateway.cli import CannotRun, gateway, main, parser, run
from services.gateway.config import Settings
from shared.db import create_engine
from shared.http import Problem
from shared.localstack import write as write_stack

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
    async with gateway(gw_settings) as gw:
        client = await gw.oauth_clients.authenticate({"client_id": "tandem-recorder", "client_secret": "s" * 40}, None)
        assert client.client_id == "tandem-recorder"


def _token(capsys: pytest.CaptureFixture[str]) -> str:
    return _last(capsys)["invitation_url"].split("#token=", 1)[1]


async def test_bootstrap_admin_refusals_are_one_line_and_a_fresh_link_replaces_the_old(
        gw_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    boot = ["bootstrap-admin", "--email", "first@example.org"]
    assert await run(parser().parse_args(boot), gw_settings) == 0
    first = _token(capsys)
    # The same address again, even forced: refused in one line that says what to type instead.
    assert await run(parser().parse_args([*boot, "--force"]), gw_settings) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--new-link" in err[0] and "Traceback" not in err[0]
    # Only an admin gets a fresh link from here.
    assert await run(parser().parse_args(["bootstrap-admin", "--email", "nobody@example.org", "--new-link"]),
                     gw_settings) == 1
    assert "not an admin" in capsys.readouterr().err
    assert await run(parser().parse_args([*boot, "--new-link"]), gw_settings) == 0
    fresh = _token(capsys)
    assert fresh != first
    async with gateway(gw_settings) as gw:
        with pytest.raises(Problem):  # only the newest link works
            await gw.invitations.accept(first, "a long enough passphrase 1")
        await gw.invitations.accept(fresh, "a long enough passphrase 1")


async def test_bootstrap_admin_with_redis_down_writes_nothing(gw_settings: Settings) -> None:
    dead = replace(gw_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(CannotRun, match="GATEWAY_REDIS_URL"):
        await run(parser().parse_args(["bootstrap-admin", "--email", "first@example.org"]), dead)
    engine = create_engine(gw_settings.database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one() == 0
    finally:
        await engine.dispose()


def test_bootstrap_admin_finds_the_stack_and_refuses_a_missing_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """No variables: the settings come from the stack file; a database that is not there is not created."""
    monkeypatch.setenv("TANDEM_VAR_DIR", str(tmp_path))
    write_stack(tmp_path, pid=1, gateway_url="http://127.0.0.1:18000",
                environ={"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
                         "GATEWAY_ISSUER": "http://127.0.0.1:18000"})
    assert main(["bootstrap-admin", "--email", "first@example.org"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"tandem gateway: acting on the local stack in {tmp_path}")
    assert "no database at" in err[-1] and "make run" in err[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.json"]
