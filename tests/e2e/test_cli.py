"""The `tandem` command hands operator commands to the service that owns them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.crypto import LocalKeyring
from tests.support.databases import Databases


def tandem(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def started_once(service: str, env: dict[str, str], keyring: Path) -> None:
    """What the service's first start leaves: its migrated database and its keyring."""
    migrated = subprocess.run([sys.executable, "-m", f"services.{service}", "migrate"], env={**os.environ, **env},
                              capture_output=True, text=True, timeout=120, check=False)
    assert migrated.returncode == 0, migrated.stderr
    LocalKeyring(keyring)


def test_keys_rotate_and_list_through_tandem(tmp_path: Path, database_url: Databases) -> None:
    env = {"RECORDS_KEYRING_PATH": str(tmp_path / "records-keyring.json"),
           "RECORDS_DATABASE_URL": database_url("records")}
    started_once("records", env, tmp_path / "records-keyring.json")
    assert tandem(["keys", "rotate"], env).returncode == 0
    listed = tandem(["keys", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert "primary" in listed.stdout and "2" in listed.stdout
    assert oct((tmp_path / "records-keyring.json").stat().st_mode & 0o777) == "0o600"


def test_reports_keys_through_tandem(tmp_path: Path, database_url: Databases) -> None:
    env = {"REPORTS_KEYRING_PATH": str(tmp_path / "reports-keyring.json"),
           "REPORTS_DATABASE_URL": database_url("reports")}
    started_once("reports", env, tmp_path / "reports-keyring.json")
    listed = tandem(["reports", "keys", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert "primary" in listed.stdout


@pytest.mark.parametrize("argv", [["keys", "list"], ["keys", "rotate"], ["audit", "verify"],
                                  ["reports", "keys", "list"], ["sessions", "keys", "list"]])
def test_a_command_on_a_missing_stack_creates_nothing(tmp_path: Path, argv: list[str]) -> None:
    """No database or keyring is created as a side effect: one line naming what is missing, exit 2."""
    env = {"RECORDS_AUDIT_KEY_DIR": str(tmp_path / "audit")}
    for prefix in ("RECORDS", "REPORTS", "SESSIONS"):
        env[f"{prefix}_DATABASE_URL"] = f"sqlite:///{tmp_path / (prefix.lower() + '.db')}"
        env[f"{prefix}_KEYRING_PATH"] = str(tmp_path / f"{prefix.lower()}-keyring.json")
    result = tandem(argv, env)
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "no database at" in last and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = tandem(["frobnicate"], {})
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_a_database_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    keyring = tmp_path / "reports-keyring.json"
    LocalKeyring(keyring)
    result = tandem(["reports", "keys", "list"], {"REPORTS_KEYRING_PATH": str(keyring),
                                                 "REPORTS_DATABASE_URL": "postgresql://127.0.0.1:1/none"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("reports: could not run the command")
