"""`tandem run`: everything on one machine with embedded defaults.

Starts a `redis-server` child (AOF on, data under var/redis; or uses REDIS_URL when given), a SeaweedFS
`weed mini` child as the S3 endpoint (loopback only, data under var/s3), then the four services (each
applies its migrations at start), waits until every /readyz answers 200, prints the URLs, and stops
everything cleanly on Ctrl-C or SIGTERM. `Stack` is the same thing as an object, for end-to-end tests.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.children import Child, ChildError, exited_error, spawn, start_redis, start_seaweed, stop_processes
from deploy.local.ports import MOVE_REDIS, MOVE_SERVICES, PortNeed, port_problem, seaweed_needs
from shared import localstack

SERVICES = {"gateway": 0, "sessions": 1, "records": 2, "reports": 3}  # offsets from the base port
STOP_GRACE = (5.0, 5.0)  # seconds for the services, then Redis and S3 (weed takes ~2.3 s), before SIGKILL
PREFIX = {"gateway": "GATEWAY", "sessions": "SESSIONS", "records": "RECORDS", "reports": "REPORTS"}


class RunError(Exception):
    pass


@dataclass
class Options:
    var_dir: Path
    redis_url: str | None
    redis_port: int
    s3_base_port: int
    port_base: int = 8000
    host: str = "127.0.0.1"
    ready_timeout: float = 90.0
    extra_env: dict[str, str] = field(default_factory=dict)
    recorder_client: tuple[str, str] | None = None

    def port(self, name: str) -> int:
        return self.port_base + SERVICES[name]

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port(name)}"

    def port_needs(self) -> list[PortNeed]:
        """Every port the stack will listen on, with what needs it and the setting that moves it."""
        needs = [PortNeed(self.port(n), f"the {n} service (port base + {SERVICES[n]})", MOVE_SERVICES, self.host)
                 for n in SERVICES]
        if not self.redis_url:
            needs.append(PortNeed(self.redis_port, "the Redis child", MOVE_REDIS))
        return needs + seaweed_needs(self.s3_base_port)


def ensure_redis_binary() -> None:
    if shutil.which("redis-server"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("tandem: redis-server missing; installing it with apt-get", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        return
    raise RunError("redis-server is not installed: run `sudo apt-get install redis-server` (or set REDIS_URL)")


def s3_credentials(var_dir: Path) -> tuple[str, str]:
    path = var_dir / "s3-credentials.json"
    if path.exists():
        data = json.loads(path.read_text())
        return data["access_key"], data["secret_key"]
    access, secret = "tandem-local", secrets.token_urlsafe(24)
    path.write_text(json.dumps({"access_key": access, "secret_key": secret}))
    path.chmod(0o600)
    return access, secret


def service_env(name: str, opts: Options, redis_url: str, s3_endpoint: str, s3_keys: tuple[str, str]) -> dict[str, str]:
    p = PREFIX[name]
    env = {
        f"{p}_HOST": opts.host,
        f"{p}_PORT": str(opts.port(name)),
        f"{p}_REDIS_URL": redis_url,
        f"{p}_DATABASE_URL": f"sqlite:///{opts.var_dir / (name + '.db')}",
        f"{p}_JWKS_URL": f"{opts.url('gateway')}/internal/assertion-jwks",
        f"{p}_INSTANCE_ID": f"{name}-local",
    }
    if name in ("records", "reports"):
        env |= {f"{p}_S3_ENDPOINT": s3_endpoint, f"{p}_S3_ACCESS_KEY": s3_keys[0], f"{p}_S3_SECRET_KEY": s3_keys[1],
                f"{p}_KEYRING_PATH": str(opts.var_dir / f"{name}-keyring.json")}
    if name == "sessions":  # seals the agendas
        env[f"{p}_KEYRING_PATH"] = str(opts.var_dir / "sessions-keyring.json")
    if name == "records":
        env[f"{p}_AUDIT_KEY_DIR"] = str(opts.var_dir / "keys" / "audit")
    if name == "records":
        # Few glibc arenas: flat memory while streaming recordings (docs/records.md, Performance).
        env |= {"MALLOC_ARENA_MAX": "2"}
    if name == "gateway":
        env["GATEWAY_ISSUER"] = opts.url("gateway")
        for svc in ("sessions", "records", "reports"):
            env[f"GATEWAY_{svc.upper()}_URL"] = opts.url(svc)
    if name == "sessions" and opts.recorder_client:
        client_id, secret = opts.recorder_client
        env |= {"SESSIONS_RECORDING_SINK_URL": f"{opts.url('gateway')}/api/records/internal/recordings",
                "SESSIONS_RECORDING_TOKEN_URL": f"{opts.url('gateway')}/oauth/token",
                "SESSIONS_RECORDING_CLIENT_ID": client_id, "SESSIONS_RECORDING_CLIENT_SECRET": secret}
    # Variables the operator set explicitly win over these defaults (ports stay ours: we probe them).
    merged = {k: v if k.endswith("_PORT") else os.environ.get(k, v) for k, v in env.items()}
    return merged | {k: v for k, v in opts.extra_env.items() if k.startswith(p + "_")}


RECORDER_CLIENT_ID = "tandem-recorder"


def recorder_client(opts: Options, env: dict[str, str], log: Path) -> tuple[str, str] | None:
    """The recorder's gateway service account (client credentials), created once and kept in var/."""
    path = opts.var_dir / "recorder-client.json"
    if path.exists():
        data = json.loads(path.read_text())
        return data["client_id"], data["client_secret"]
    with log.open("ab") as out:
        result = subprocess.run(
            [sys.executable, "-m", "services.gateway", "create-client", "--name", "Sessions recorder",
             "--client-id", RECORDER_CLIENT_ID, "--grant", "client_credentials", "--scope", "api"],
            env=env, stdout=subprocess.PIPE, stderr=out, check=False, timeout=120)
    if result.returncode != 0:
        print(f"tandem: could not register the recorder's service account (see {log}); recording is off",
              file=sys.stderr, flush=True)
        return None
    created = json.loads(result.stdout)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"client_id": created["client_id"], "client_secret": created["client_secret"]}, f)
    return created["client_id"], created["client_secret"]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float, name: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunError(str(exited_error(name, proc, log)))
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback URL we built
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RunError(f"{name} was not ready within {timeout:.0f}s (see {log})")


class Stack:
    """Redis, S3 and the four services as child processes; `start()` returns when all are ready."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.children: list[Child] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.redis_url = ""
        self.s3_endpoint = ""
        self.s3_keys = ("", "")
        self.logs = opts.var_dir / "logs"
        self.environ: dict[str, str] = {}  # every service's variables, for the stack file

    def start(self) -> None:
        opts = self.opts
        problem = port_problem(opts.port_needs())  # before anything starts or is written
        if problem:
            raise RunError(problem)
        opts.var_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        try:
            if opts.redis_url:
                self.redis_url = opts.redis_url
            else:
                ensure_redis_binary()
                redis = start_redis(opts.var_dir / "redis", port=opts.redis_port, appendonly=True)
                self.children.append(redis)
                self.redis_url = redis.url
            self.s3_keys = s3_credentials(opts.var_dir)
            s3 = start_seaweed(opts.var_dir / "s3", access_key=self.s3_keys[0], secret_key=self.s3_keys[1],
                               base=opts.s3_base_port)
            self.children.append(s3)
            self.s3_endpoint = s3.endpoint
            gateway_env = {**os.environ, **service_env("gateway", opts, self.redis_url, s3.endpoint, self.s3_keys)}
            opts.recorder_client = recorder_client(opts, gateway_env, self.logs / "gateway.log")
            for name in SERVICES:
                own = service_env(name, opts, self.redis_url, s3.endpoint, self.s3_keys)
                self.environ |= {k: v for k, v in own.items() if k.startswith(PREFIX[name] + "_")}
                env = {**os.environ, **own}
                self.procs[name] = spawn([sys.executable, "-m", f"services.{name}"], self.logs / f"{name}.log", env)
            for name in SERVICES:
                wait_ready(f"{opts.url(name)}/readyz", self.procs[name], opts.ready_timeout, name,
                           self.logs / f"{name}.log")
        except ChildError as exc:  # one line naming the child and its log, not a traceback
            self.stop()
            raise RunError(str(exc)) from None
        except BaseException:
            self.stop()
            raise

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RunError(f"{name} exited with code {proc.returncode} (see {self.logs / (name + '.log')})")

    def write_down(self) -> Path:
        """The stack file the operator commands act on (shared/localstack.py): removed when it stops."""
        return localstack.write(self.opts.var_dir, pid=os.getpid(), gateway_url=self.opts.url("gateway"),
                                environ=self.environ)

    def stop(self) -> None:
        """SIGTERM the services, then Redis and S3 (which the services use while they stop); each group gets
        a bounded grace period, then SIGKILL. A second Ctrl-C while stopping kills whatever is left."""
        groups = [dict(self.procs), {c.name: c.proc for c in reversed(self.children)}]
        try:
            for group, grace in zip(groups, STOP_GRACE, strict=True):
                for name in stop_processes(group, grace):
                    print(f"tandem: {name} did not stop within {grace:.0f}s; killed it", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            for group in groups:
                stop_processes(group, 0)
        self.procs.clear()
        self.children.clear()
        localstack.remove(self.opts.var_dir, pid=os.getpid())


def run(opts: Options, *, check_only: bool = False) -> int:
    stop_requested = False

    def _request_stop(_sig: int, _frame: object) -> None:
        nonlocal stop_requested
        if not stop_requested:  # like Ctrl-C, so that a start-up in progress stops too; once is enough
            stop_requested = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _request_stop)
    stack = Stack(opts)
    try:
        stack.start()
        written = stack.write_down()
        print("Tandem is running:", flush=True)
        print(f"  web app and API  {opts.url('gateway')}/", flush=True)
        for name in SERVICES:
            print(f"  {name:<9} {opts.url(name)}  (readyz ok)", flush=True)
        print(f"  redis     {stack.redis_url}\n  s3        http://{stack.s3_endpoint}\n  logs      {stack.logs}",
              flush=True)
        print(f"  commands  act on this stack ({written}); e.g. `tandem audit verify`", flush=True)
        print("First time? `tandem gateway bootstrap-admin --email you@example.org` prints a one-time link to set "
              "the first admin's password.", flush=True)
        if check_only:
            return 0
        print("Press Ctrl-C to stop.", flush=True)
        while not stop_requested:
            stack.check_alive()
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except RunError as exc:
        print(f"tandem: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()
        print("tandem: stopped", flush=True)
