"""The local stack file `tandem run` writes, and how an operator command finds it and reads its settings
from it: the environment first, then the stack, then the defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared import localstack
from shared.localstack import StackFileError, command_environ, find, read, remove, write

ENV = {"RECORDS_DATABASE_URL": "sqlite:////stack/var/records.db", "RECORDS_KEYRING_PATH": "/stack/var/k.json",
       "GATEWAY_ISSUER": "http://127.0.0.1:18000"}


@pytest.fixture(autouse=True)
def _no_checkout_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The last place looked in is the checkout's var/: keep a developer's own stack out of these tests.
    monkeypatch.setattr(localstack, "CHECKOUT_VAR", tmp_path / "checkout" / "var")


def test_the_file_is_written_whole_and_for_its_owner_only(tmp_path: Path) -> None:
    path = write(tmp_path, pid=os.getpid(), gateway_url="http://127.0.0.1:18000", environ=ENV)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.json"]  # no temporary file left
    stack = read(path)
    assert stack.environ == ENV and stack.pid == os.getpid() and stack.running()
    assert str(tmp_path) in stack.describe() and "no longer running" not in stack.describe()


def test_a_stack_whose_run_died_says_so(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    write(tmp_path, pid=int(dead.stdout), gateway_url="http://x", environ=ENV)
    assert "no longer running" in read(tmp_path / "stack.json").describe()


def test_only_the_run_that_wrote_it_removes_it(tmp_path: Path) -> None:
    write(tmp_path, pid=os.getpid(), gateway_url="http://x", environ=ENV)
    remove(tmp_path, pid=os.getpid() + 1)
    assert (tmp_path / "stack.json").exists()
    remove(tmp_path, pid=os.getpid())
    assert not (tmp_path / "stack.json").exists()


def test_found_from_any_folder_below_the_project_or_where_tandem_var_dir_says(tmp_path: Path) -> None:
    var = tmp_path / "project" / "var"
    var.mkdir(parents=True)
    (tmp_path / "project" / "pyproject.toml").write_text("")
    write(var, pid=1, gateway_url="http://x", environ=ENV)
    deep = tmp_path / "project" / "docs" / "deep"
    deep.mkdir(parents=True)
    found = find({}, deep)
    assert found is not None and found.path == (var / "stack.json").resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert find({"TANDEM_VAR_DIR": str(elsewhere)}, deep) is None
    assert find({"TANDEM_VAR_DIR": str(var)}, elsewhere) is not None
    assert find({}, elsewhere) is None  # nothing above it, nothing in the checkout


def test_the_environment_wins_variable_by_variable_and_says_so(tmp_path: Path) -> None:
    write(tmp_path, pid=os.getpid(), gateway_url="http://127.0.0.1:18000", environ=ENV)
    env, note = command_environ("RECORDS", {"TANDEM_VAR_DIR": str(tmp_path),
                                            "RECORDS_DATABASE_URL": "postgresql://db/records"})
    assert env["RECORDS_DATABASE_URL"] == "postgresql://db/records"
    assert env["RECORDS_KEYRING_PATH"] == ENV["RECORDS_KEYRING_PATH"]
    assert note.startswith(f"acting on the local stack in {tmp_path}") and "RECORDS_DATABASE_URL" in note
    env, note = command_environ("RECORDS", {"TANDEM_VAR_DIR": str(tmp_path / "none")})
    assert "RECORDS_KEYRING_PATH" not in env and note.startswith("no local stack found")


def test_a_damaged_file_is_an_error_not_a_guess(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(StackFileError, match="not a stack file"):
        command_environ("RECORDS", {"TANDEM_VAR_DIR": str(tmp_path)})
