"""The `tandem` command hands operator commands to the service that owns them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.databases import Databases


def tandem(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def test_keys_rotate_and_list_through_tandem(tmp_path: Path, database_url: Databases) -> None:
    env = {"RECORDS_KEYRING_PATH": str(tmp_path / "records-keyring.json"),
           "RECORDS_DATABASE_URL": database_url("records")}
    assert tandem(["keys", "rotate"], env).returncode == 0
    listed = tandem(["keys", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert "primary" in listed.stdout and "2" in listed.stdout
    assert oct((tmp_path / "records-keyring.json").stat().st_mode & 0o777) == "0o600"


def test_reports_keys_through_tandem(tmp_path: Path, database_url: Databases) -> None:
    env = {"REPORTS_KEYRING_PATH": str(tmp_path / "reports-keyring.json"),
           "REPORTS_DATABASE_URL": database_url("reports")}
    listed = tandem(["reports", "keys", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert "primary" in listed.stdout


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = tandem(["frobnicate"], {})
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
