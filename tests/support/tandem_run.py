"""`tandem run` as a subprocess for end-to-end tests: a clean environment, free ports, its output read
until the stack is ready, and the processes it started (psutil, a dev dependency)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from deploy.local.children import S3_OFFSETS, free_port, free_port_block


@dataclass(frozen=True)
class RunPorts:
    base: int  # gateway; sessions, records, reports on the next three
    redis: int
    s3_base: int

    @classmethod
    def free(cls) -> RunPorts:
        return cls(free_port_block((0, 1, 2, 3)), free_port(), free_port_block(S3_OFFSETS))

    def args(self) -> list[str]:
        return ["--port-base", str(self.base), "--redis-port", str(self.redis), "--s3-base-port", str(self.s3_base)]


def run_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the services' variables nor REDIS_URL (so `tandem run` starts its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "SESSIONS_", "RECORDS_", "REPORTS_"))}
    env.pop("REDIS_URL", None)
    return env | (extra or {})


def start_tandem_run(var_dir: Path, ports: RunPorts, *args: str, env: dict[str, str] | None = None,
                     stderr: int = subprocess.STDOUT) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "run", "--var-dir", str(var_dir), *ports.args(), *args],
        stdout=subprocess.PIPE, stderr=stderr, env=run_env(env), text=True,
    )


def read_until_ready(proc: subprocess.Popen[str], timeout: float = 120) -> list[str]:
    """Output lines up to "Press Ctrl-C" (or the end of the output, or the timeout)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    return lines


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def still_alive(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of `procs` still running after waiting up to `timeout` seconds for them to exit."""
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return [p for p in alive if _running(p)]


def _running(p: psutil.Process) -> bool:
    """Exited but not yet reaped (a zombie) counts as gone: it runs nothing and holds no port."""
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_all(procs: list[psutil.Process]) -> None:
    """Clean-up after a failed test: nothing it started may outlive it."""
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=10)


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Running processes whose command line contains `text` (e.g. a test's var dir)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any(text in part for part in p.info["cmdline"] or ()):
            found.append(p)
    return found
