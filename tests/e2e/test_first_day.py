"""A programme's first day as the README tells it, on a machine where the default ports are taken: `tandem
run` with every port moved, then, from the folder it runs in and with no variable set by hand,
`tandem gateway bootstrap-admin` (whose link works on the stack's own port), `tandem audit verify` and
`tandem keys list`, which act on that stack: its databases, its S3 credentials, its keyrings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local.children import S3_OFFSETS, free_port, free_port_block

pytestmark = pytest.mark.integration
PREFIXES = ("GATEWAY_", "SESSIONS_", "RECORDS_", "REPORTS_", "TANDEM_")


def clean_env() -> dict[str, str]:
    """The environment of someone who has set nothing of Tandem's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    env.pop("REDIS_URL", None)
    return env


def tandem(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """`tandem run` from `tmp_path` (its var/ there), every port away from its default."""
    base = free_port_block((0, 1, 2, 3))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "run", "--port-base", str(base), "--redis-port", str(free_port()),
         "--s3-base-port", str(free_port_block(S3_OFFSETS))],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline and not any("Press Ctrl-C" in ln for ln in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert any("Tandem is running" in ln for ln in lines), "".join(lines)
        yield tmp_path, base
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + out
    assert not (tmp_path / "var" / "stack.json").exists()  # a stopped stack is no longer offered


def test_the_first_day_from_the_project_folder_with_no_variables(stack: tuple[Path, int]) -> None:
    root, base = stack
    var = root / "var"
    assert oct((var / "stack.json").stat().st_mode & 0o777) == "0o600"

    boot = tandem(["gateway", "bootstrap-admin", "--email", "admin@example.org", "--name", "First Admin"], root)
    assert boot.returncode == 0, boot.stderr
    assert f"acting on the local stack in {var}" in boot.stderr and "Traceback" not in boot.stderr
    link = json.loads(boot.stdout.strip().splitlines()[-1])["invitation_url"]
    assert link.startswith(f"http://127.0.0.1:{base}/invitation#token=")
    token = link.split("#token=", 1)[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{base}", timeout=30) as web:
        assert web.get("/invitation").status_code == 200  # the page the link opens
        accepted = web.post("/auth/invitations/accept", json={"token": token, "password": "first day passphrase 1"})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["totp_required"] is True  # an admin enrols an authenticator next

    # Again: refused in one line (an admin exists), and nothing half-made.
    again = tandem(["gateway", "bootstrap-admin", "--email", "other@example.org"], root)
    assert again.returncode == 1 and again.stderr.strip().splitlines()[-1].startswith("tandem gateway: refused")

    verified = tandem(["audit", "verify"], root)  # the stack's S3 credentials, no copying by hand
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("OK:") and f"acting on the local stack in {var}" in verified.stderr

    keys = tandem(["keys", "list"], root)
    assert keys.returncode == 0, keys.stderr
    assert "primary" in keys.stdout
    # The keyring the records service uses; no stray one made by the command.
    assert (var / "records-keyring.json").exists()
    assert not (var / "keyring.json").exists() and not (root / "keyring.json").exists()
