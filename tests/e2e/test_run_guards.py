"""`tandem run` guards (issue 16): a busy port is named before anything starts, a child that fails at
start-up is one line, and nothing outlives `tandem run` even when it is SIGKILLed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from deploy.local.children import ChildError, die_with_parent, free_port, log_tail, start_redis
from deploy.local.ports import S3_OFFSETS, ephemeral_range, free_port_block, port_is_free
from tests.support.tandem_run import (
    RunPorts,
    descendants,
    kill_all,
    processes_mentioning,
    read_until_ready,
    start_tandem_run,
    still_alive,
)

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def _listening(port: int) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        yield s


# (which port is taken, what the message must name)
BUSY = {
    "seaweedfs-filer-grpc": (lambda p: p.s3_base + 10002, "TANDEM_S3_BASE_PORT"),
    "seaweedfs-metrics": (lambda p: p.s3_base + 5, "TANDEM_S3_BASE_PORT"),
    "records-service": (lambda p: p.base + 2, "TANDEM_PORT_BASE"),
    "redis": (lambda p: p.redis, "TANDEM_REDIS_PORT"),
}


@pytest.mark.parametrize("case", sorted(BUSY))
def test_a_busy_port_is_named_before_anything_starts(tmp_path: Path, case: str) -> None:
    ports = RunPorts.free()
    pick, variable = BUSY[case]
    busy = pick(ports)
    var_dir = tmp_path / "var"
    with _listening(busy):
        proc = start_tandem_run(var_dir, ports, "--check", stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"port {busy} " in lines[0] and variable in lines[0] and "already in use" in lines[0], lines[0]
    assert "Traceback" not in out + err
    assert not var_dir.exists(), "nothing may be created before the ports are checked"
    assert not processes_mentioning(str(var_dir))
    assert all(port_is_free(ports.base + off) for off in range(4))


def test_a_child_that_fails_at_start_up_is_one_line_naming_it_and_its_log(tmp_path: Path) -> None:
    port = free_port()
    # Another program already on the port: redis-server exits, and that is what is reported.
    with _listening(port), pytest.raises(ChildError) as failed:
        start_redis(tmp_path / "redis", port=port)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("redis-server exited with code") and str(tmp_path / "redis" / "redis.log") in message


def test_a_child_whose_parent_died_before_it_armed_the_signal_does_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    args = die_with_parent([sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    args[args.index(str(os.getpid()))] = "1"  # as if reparented: the spawner is gone
    assert subprocess.run(args, check=False, timeout=30).returncode != 0
    assert not marker.exists()


def test_a_child_dies_with_its_parent_even_when_the_parent_is_sigkilled(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from deploy.local.children import spawn; "
         "p = spawn(['sleep', '600'], Path(sys.argv[1])); print(p.pid, flush=True); time.sleep(600)",
         str(tmp_path / "sleep.log")],
        stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    child = [p for p in descendants(parent.pid) if p.pid == child_pid]
    assert child, "the child should be running"
    parent.send_signal(signal.SIGKILL)
    parent.wait(30)
    parent.stdout.close()
    left = still_alive(child, timeout=30)
    kill_all(left)
    assert not left


def test_nothing_outlives_a_sigkilled_tandem_run(tmp_path: Path) -> None:
    ports = RunPorts.free()
    proc = start_tandem_run(tmp_path / "var", ports)
    children = []
    try:
        lines = read_until_ready(proc)
        assert any("Tandem is running" in ln for ln in lines), "".join(lines)
        children = descendants(proc.pid)
        assert len(children) >= 6, children  # four services, Redis, SeaweedFS
        proc.send_signal(signal.SIGKILL)  # no clean-up runs: only the parent-death signal can stop them
        proc.wait(30)
        left = still_alive(children, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
        kill_all(children)
    assert not left, f"still running after `tandem run` was killed: {left}"
    needed = [ports.base + off for off in range(4)] + [ports.redis, ports.s3_base + 3]
    assert all(port_is_free(p) for p in needed), "the children's ports should be free again"


def test_sigterm_during_start_up_stops_everything_it_started(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    proc = start_tandem_run(var_dir, RunPorts.free())
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 120
        # Redis, SeaweedFS and the services are started, the services not yet ready: start-up in progress.
        while not (var_dir / "logs" / "reports.log").exists() and proc.poll() is None and time.monotonic() < deadline:
            seen |= {p.pid: p for p in descendants(proc.pid)}
            time.sleep(0.02)
        seen |= {p.pid: p for p in descendants(proc.pid)}
        assert len(seen) >= 6, seen  # Redis, SeaweedFS, the four services
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        left = still_alive(list(seen.values()), timeout=0)
        kill_all(left)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert not left, f"still running after `tandem run` was stopped during start-up: {left}"


def test_a_childs_error_line_is_reported_not_the_orderly_shutdown_after_it(tmp_path: Path) -> None:
    # uvicorn that cannot bind logs the error, then "Application shutdown complete.", then exits 3.
    log = tmp_path / "gateway.log"
    log.write_text('{"event":"Application startup complete.","level":"info"}\n'
                   '{"event":"[Errno 98] error while attempting to bind on address: address already in use",'
                   '"level":"error"}\n'
                   '{"event":"Application shutdown complete.","level":"info"}\n')
    assert "address already in use" in log_tail(log)
    log.write_text("starting\nstopped\n")
    assert log_tail(log) == "stopped"


def test_free_ports_for_tests_are_outside_the_ephemeral_range() -> None:
    # A port inside it can be taken, between the choice and the bind, by an outgoing connection's own port.
    low, high = ephemeral_range()
    for _ in range(50):
        assert not low <= free_port() <= high
        base = free_port_block(S3_OFFSETS)
        assert all(not low <= base + off <= high for off in S3_OFFSETS)
