"""Two headless Chromium pages (fake camera and microphone) complete a call and a consented recording
through the sessions service, in a private network namespace holding only loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]


def _can_run() -> str | None:
    if not Path("/usr/bin/chromium").exists():
        return "no /usr/bin/chromium"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare/ip not available"
    if os.geteuid() != 0:
        return "a private network namespace needs root"
    return None


@pytest.mark.skipif(_can_run() is not None, reason=str(_can_run()))
def test_two_browsers_call_and_record() -> None:
    cmd = f"ip link set lo up; exec {sys.executable} -m tests.sessions.browser_call"
    proc = subprocess.run(["unshare", "-n", "sh", "-c", cmd], cwd=ROOT, capture_output=True, timeout=150,
                          check=False)
    lines = [line for line in proc.stdout.decode().splitlines() if line.startswith("{")]
    assert lines, proc.stderr.decode()[-3000:]
    result = json.loads(lines[-1])
    assert proc.returncode == 0, result
    assert result["call_connected"]
    assert result["recorded_bytes"] > 0
    streams = result["streams"]
    assert len(streams) == 4, streams
    for title, entry in streams.items():
        assert entry["errors"] == 0, (title, entry)
        assert entry["frames"] > 0, (title, entry)
    assert result["page_errors"] == [[], []]
