"""`tandem run` on a fresh var dir: every /readyz answers 200, then a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from deploy.local.children import S3_OFFSETS, free_port, free_port_block
from tests.support.databases import Databases, service_databases

pytestmark = pytest.mark.integration


def test_tandem_run_starts_everything_and_stops_cleanly(tmp_path: Path, database_url: Databases) -> None:
    base = free_port_block((0, 1, 2, 3))
    s3_base = free_port_block(S3_OFFSETS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "SESSIONS_", "RECORDS_", "REPORTS_"))}
    env.pop("REDIS_URL", None)
    # Each service's database on the run's backend (the operator's variables win over var/*.db).
    env |= service_databases(database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "run", "--var-dir", str(tmp_path / "var"), "--port-base", str(base),
         "--redis-port", str(free_port()), "--s3-base-port", str(s3_base)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        assert any("Tandem is running" in ln for ln in lines), "".join(lines)
        for offset in range(4):
            with urllib.request.urlopen(f"http://127.0.0.1:{base + offset}/readyz", timeout=5) as resp:
                assert resp.status == 200
        assert (tmp_path / "var" / "redis" / "appendonlydir").exists(), "redis must run with AOF on"
        assert oct((tmp_path / "var" / "s3-credentials.json").stat().st_mode & 0o777) == "0o600"
        # The recorder's service account was registered and its secret kept private.
        assert oct((tmp_path / "var" / "recorder-client.json").stat().st_mode & 0o777) == "0o600"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "tandem: stopped" in out
