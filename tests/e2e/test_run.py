"""`tandem run` on a fresh var dir: every /readyz answers 200, then a clean stop that leaves no process."""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path

import pytest

from tests.support.databases import Databases, service_databases
from tests.support.tandem_run import RunPorts, descendants, kill_all, read_until_ready, start_tandem_run, still_alive

pytestmark = pytest.mark.integration


def test_tandem_run_starts_everything_and_stops_cleanly(tmp_path: Path, database_url: Databases) -> None:
    ports = RunPorts.free()
    # Each service's database on the run's backend (the operator's variables win over var/*.db).
    proc = start_tandem_run(tmp_path / "var", ports, env=service_databases(database_url))
    children = []
    try:
        lines = read_until_ready(proc)
        assert any("Tandem is running" in ln for ln in lines), "".join(lines)
        children = descendants(proc.pid)
        assert len(children) >= 6, children  # four services, Redis, SeaweedFS
        for offset in range(4):
            with urllib.request.urlopen(f"http://127.0.0.1:{ports.base + offset}/readyz", timeout=5) as resp:
                assert resp.status == 200
        assert (tmp_path / "var" / "redis" / "appendonlydir").exists(), "redis must run with AOF on"
        assert oct((tmp_path / "var" / "s3-credentials.json").stat().st_mode & 0o777) == "0o600"
        # The recorder's service account was registered and its secret kept private.
        assert oct((tmp_path / "var" / "recorder-client.json").stat().st_mode & 0o777) == "0o600"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        left = still_alive(children, timeout=0)
        kill_all(left)
    assert proc.returncode == 0, out
    assert "tandem: stopped" in out
    assert not left, f"still running after `tandem run` stopped: {left}"
