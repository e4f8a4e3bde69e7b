"""Settings: typed parsing, secrets from files, and a clear one-line failure naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.records.config import Settings as RecordsSettings
from services.sessions.config import Settings as SessionsSettings
from shared.config import ConfigError, describe, load_settings


def test_defaults_and_typed_values() -> None:
    s = load_settings(SessionsSettings, "SESSIONS", {"SESSIONS_PORT": "9001", "SESSIONS_LOG_JSON": "no"})
    assert s.port == 9001 and s.log_json is False
    assert s.database_url == "sqlite:///var/sessions.db"


def test_secret_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "s3-secret"
    secret.write_text("from-a-file\n")
    s = load_settings(RecordsSettings, "RECORDS", {"RECORDS_S3_SECRET_KEY_FILE": str(secret)})
    assert s.s3_secret_key == "from-a-file"


@pytest.mark.parametrize(("env", "variable"), [
    ({"SESSIONS_PORT": "eighty"}, "SESSIONS_PORT"),
    ({"SESSIONS_PORT": "70000"}, "SESSIONS_PORT"),
    ({"SESSIONS_LOG_JSON": "maybe"}, "SESSIONS_LOG_JSON"),
    ({"SESSIONS_DATABASE_URL": "mysql://x"}, "SESSIONS_DATABASE_URL"),
    ({"SESSIONS_REDIS_URL": "http://x"}, "SESSIONS_REDIS_URL"),
    ({"SESSIONS_LOG_LEVEL": "loud"}, "SESSIONS_LOG_LEVEL"),
    ({"SESSIONS_BUS_MAX_DELIVERIES": "0"}, "SESSIONS_BUS_MAX_DELIVERIES"),
])
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(SessionsSettings, "SESSIONS", env)
    assert str(err.value).startswith(variable + ":")


def test_unreadable_secret_file_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^RECORDS_S3_SECRET_KEY_FILE: cannot read"):
        load_settings(RecordsSettings, "RECORDS", {"RECORDS_S3_SECRET_KEY_FILE": "/nonexistent/secret"})


@pytest.mark.parametrize("service", ["gateway", "sessions", "records", "reports"])
def test_bad_configuration_exits_non_zero_with_one_clear_line(service: str) -> None:
    prefix = service.upper()
    env = {**os.environ, f"{prefix}_PORT": "not-a-port"}
    proc = subprocess.run([sys.executable, "-m", f"services.{service}"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"tandem: configuration error: {prefix}_PORT: expected an integer, got 'not-a-port'"]


def test_describe_lists_every_variable() -> None:
    names = [row[0] for row in describe(RecordsSettings, "RECORDS")]
    assert "RECORDS_DATABASE_URL" in names and "RECORDS_S3_BUCKET" in names
    assert all(row[2] for row in describe(RecordsSettings, "RECORDS")), "every setting needs a help text"


def test_trusted_proxies_are_a_list() -> None:
    s = load_settings(SessionsSettings, "SESSIONS", {"SESSIONS_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2"})
    assert s.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert load_settings(SessionsSettings, "SESSIONS", {}).trusted_proxies == ()
