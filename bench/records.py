"""Recording ingest through the records API vs a plain S3 put of the same bytes, the service's peak
RSS while uploading, and streaming seal + open vs raw AES-GCM, measured in one run (the S3 parts
against a private SeaweedFS).

Run: `.venv/bin/python bench/records.py` (about a minute) or `--size 1024` for a 1 GiB upload;
`--json` prints one JSON document instead of the text report.
- Throughput: paired runs (API upload, then a plain MinIO-SDK multipart put of the same stream,
  same part size, same endpoint), `--pairs` times at `--small` MiB; the median of the per-pair
  ratios is reported (target <= 1.10x), and the ratio of the best times of each side as a check.
  Single runs on a shared 2-core machine vary by 15-20% (far more under load).
- CPU per GiB of each side, and of the S3 server while serving each side (same bytes, so it should
  match: if it does not, the comparison is not like for like). The service's CPU is split into its
  event loop thread (receive + seal) and the rest (upload threads: hash + send).
- Memory: the records service runs as its own uvicorn process; its RSS is sampled every 20 ms
  while it ingests `--small` MiB and `--size` MiB. Peak RSS should stay < 150 MB and flat in size.
- Seal + open: `bench/crypto.py`'s measurement (StreamSealer + iter_unseal vs raw AESGCM encrypt +
  decrypt on the same 64 KiB chunks, best of 5 interleaved rounds over 64 MiB; target >= 0.8x), run
  first, before any server starts.
- `--pin`: the S3 server gets a CPU of its own and the records service and this process (both clients)
  share the others, as when the object store is not on the application's machine. Unpinned, on two
  cores, every CPU-second the service spends is taken from the S3 server, which needs ~10 per GiB.
Random bytes are not a WebM, so they are stored in one pass; the second pass that gives a recorder WebM
its length and seek index is measured by bench/recordings_index.py (which reuses `records_service`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
from joserfc import jwt
from joserfc.jwk import OKPKey
from minio import Minio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.crypto import measure as measure_sealing
from deploy.local.children import S3Child, free_port, start_redis, start_seaweed

MIB = 1024 * 1024
BLOCK = os.urandom(8 * MIB)  # the "media": one random block repeated (incompressible)
PART = 5 * MIB


def chunks(total: int, chunk: int = MIB) -> Iterator[bytes]:
    view = memoryview(BLOCK)
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        off = sent % len(BLOCK)
        n = min(n, len(BLOCK) - off)
        yield bytes(view[off:off + n])
        sent += n


class ChunkReader:
    """File-like over `chunks()` returning exactly n bytes per read (as the MinIO SDK expects)."""

    def __init__(self, total: int) -> None:
        self.it = chunks(total)
        self.buf = b""

    def read(self, n: int = -1) -> bytes:
        parts = [self.buf]
        have = len(self.buf)
        while have < n:
            try:
                c = next(self.it)
            except StopIteration:
                break
            parts.append(c)
            have += len(c)
        data = b"".join(parts)
        self.buf = data[n:]
        return data[:n]


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of `pid` on `cpus` (threads made later inherit it from the thread that makes them)."""
    for _ in range(2):  # a thread started while the first pass ran is caught by the second
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(task.name), cpus)


def service_options(parser: argparse.ArgumentParser) -> None:
    """The options of `records_service` (shared with bench/recordings_index.py)."""
    parser.add_argument("--service-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the records service only (repeatable), e.g. glibc tuning")
    parser.add_argument("--no-malloc-tuning", action="store_true",
                        help="run the service without MALLOC_ARENA_MAX=2")
    parser.add_argument("--pin", action="store_true",
                        help="the S3 server on a CPU of its own, the service and the clients on the others")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="large upload in MiB (1024 for 1 GiB)")
    parser.add_argument("--small", type=int, default=128, help="small upload in MiB (ratio runs)")
    parser.add_argument("--pairs", type=int, default=7, help="paired API/S3 runs for the ratio")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    service_options(parser)
    args = parser.parse_args()
    sealing = measure_sealing()  # CPU only: before any server runs
    with records_service(args) as (port, key, s3, pinned):
        run(args, port, key, s3, pinned, sealing)


@contextlib.contextmanager
def records_service(args: argparse.Namespace) -> Iterator[tuple[int, OKPKey, S3Child, bool]]:
    """A private SeaweedFS and Redis, and the records service as its own uvicorn process:
    (its port, the key its callers sign with, the S3 server, whether processes are pinned)."""
    with tempfile.TemporaryDirectory(prefix="tandem-bench-records-") as tmp:
        root = Path(tmp)
        s3 = start_seaweed(root / "s3", access_key="bench", secret_key=uuid.uuid4().hex)
        redis = start_redis(root / "redis")
        key = OKPKey.generate_key("Ed25519", parameters={"kid": "bench"})
        jwks = root / "jwks.json"
        jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
        port = free_port()
        env = {**os.environ, "RECORDS_PORT": str(port), "RECORDS_DATABASE_URL": f"sqlite:///{root / 'records.db'}",
               "RECORDS_REDIS_URL": redis.url, "RECORDS_JWKS_FILE": str(jwks), "RECORDS_S3_ENDPOINT": s3.endpoint,
               "RECORDS_S3_ACCESS_KEY": s3.access_key, "RECORDS_S3_SECRET_KEY": s3.secret_key,
               "RECORDS_S3_BUCKET": "bench-records", "RECORDS_KEYRING_PATH": str(root / "keyring.json"),
               "RECORDS_LOG_LEVEL": "warning", "RECORDS_SWEEP_INTERVAL_S": "0",
               "RECORDS_MAX_RECORDING_BYTES": str(8 * 1024 * MIB)}
        if not args.no_malloc_tuning:
            # Recommended for the records service in deployment (docs/records.md): few heap arenas.
            # (The part buffers are mmap-ed by the upload adapter itself, whatever malloc does.)
            env.setdefault("MALLOC_ARENA_MAX", "2")
        env.update(item.split("=", 1) for item in args.service_env)
        service = subprocess.Popen([sys.executable, "-m", "services.records"], env=env,
                                   cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL)
        cpus = sorted(os.sched_getaffinity(0))
        pinned = args.pin and len(cpus) >= 2
        if pinned:
            pin(s3.proc.pid, {cpus[-1]})
            pin(service.pid, set(cpus[:-1]))
            pin(os.getpid(), set(cpus[:-1]))
        try:
            yield port, key, s3, pinned
        finally:
            service.terminate()
            service.wait(15)
            redis.stop()
            s3.stop()


def token(key: OKPKey) -> str:
    now = int(time.time())
    claims = {"iss": "tandem-gateway", "sub": "svc-bench", "aud": "records", "roles": ["service"], "iat": now,
              "exp": now + 60, "jti": uuid.uuid4().hex, "sid": "bench",
              "htm": "POST", "htu": "/internal/recordings"}  # bound to the one upload it is for, used once
    return jwt.encode({"alg": "Ed25519", "kid": key.kid}, claims, key, algorithms=["Ed25519"])


def wait_ready(client: httpx.Client, base: str) -> int:
    """Waits for the records service to be ready; its pid."""
    for _ in range(300):
        try:
            if client.get(f"{base}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise SystemExit("records service did not become ready")
    return int(next(p.pid for p in psutil.Process().children() if "services.records" in " ".join(p.cmdline())))


def cpu_of(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


META = base64.urlsafe_b64encode(json.dumps({"session_id": "s-bench", "pairing_id": "p-bench",
                                            "consent_evidence": []}).encode()).decode().rstrip("=")


def run(args: argparse.Namespace, port: int, key: OKPKey, s3: S3Child, pinned: bool,
        sealing: dict[str, float]) -> None:
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=600)
    service_pid = wait_ready(client, base)
    minio = Minio(endpoint=s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    if not minio.bucket_exists(bucket_name="bench-plain"):
        minio.make_bucket(bucket_name="bench-plain")
    meta = META

    service_proc = psutil.Process(service_pid)
    s3_proc = psutil.Process(s3.proc.pid)
    me = psutil.Process()
    cpu: dict[str, float] = {}

    def loop_cpu() -> float:  # the service's main thread runs the event loop
        return next(float(t.user_time + t.system_time) for t in service_proc.threads() if t.id == service_pid)

    def add(name: str, value: float) -> None:
        cpu[name] = cpu.get(name, 0.0) + value

    def api_upload(size: int) -> float:
        s0, l0, c0, w0 = cpu_of(service_proc), loop_cpu(), cpu_of(me), cpu_of(s3_proc)
        st0 = service_proc.cpu_times()
        start = time.perf_counter()
        resp = client.post(f"{base}/internal/recordings", content=chunks(size),
                           headers={"tandem-assertion": token(key), "tandem-recording": meta,
                                    "content-type": "video/webm"})
        elapsed = time.perf_counter() - start
        st1 = service_proc.cpu_times()
        add("api_service", cpu_of(service_proc) - s0)
        add("api_service_loop", loop_cpu() - l0)
        add("api_service_user", st1.user - st0.user)
        add("api_service_system", st1.system - st0.system)
        add("api_client", cpu_of(me) - c0)
        add("s3_server_api", cpu_of(s3_proc) - w0)
        if resp.status_code != 201:
            raise SystemExit(f"ingest failed: {resp.status_code} {resp.text[:200]}")
        return elapsed

    def plain_put(size: int) -> float:
        c0, w0 = cpu_of(me), cpu_of(s3_proc)
        start = time.perf_counter()
        minio.put_object(bucket_name="bench-plain", object_name=uuid.uuid4().hex, data=ChunkReader(size),  # type: ignore[arg-type]
                         length=-1, part_size=PART)
        elapsed = time.perf_counter() - start
        add("s3_client", cpu_of(me) - c0)
        add("s3_server_plain", cpu_of(s3_proc) - w0)
        return elapsed

    idle = psutil.Process(service_pid).memory_info().rss
    small = args.small * MIB
    api_upload(16 * MIB)
    plain_put(16 * MIB)  # warm-up: connections, imports, bucket
    cpu.clear()
    ratios, api_times, s3_times = [], [], []
    for i in range(args.pairs):
        a, b = (api_upload(small), plain_put(small)) if i % 2 == 0 else (0.0, plain_put(small))
        if i % 2 == 1:
            a = api_upload(small)
        api_times.append(a)
        s3_times.append(b)
        ratios.append(a / b)
    total_gib = args.small * args.pairs / 1024
    per_gib = {k: round(v / total_gib, 2) for k, v in sorted(cpu.items())}
    memory = []
    for size_mib in (args.small, args.size):
        sampler = RssSampler(service_pid)
        sampler.start()
        t = api_upload(size_mib * MIB)
        peak = sampler.stop()
        memory.append({"upload_mib": size_mib, "peak_rss_mib": round(peak / MIB, 1),
                       "peak_rss_mb": round(peak / 1e6, 1), "mib_per_s": round(size_mib / t, 1)})
    result = {
        "upload_mib": args.small, "pairs": args.pairs, "part_mib": PART // MIB,
        "malloc_tuning": not args.no_malloc_tuning, "pinned": pinned,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "api_s_median": round(statistics.median(api_times), 3), "s3_s_median": round(statistics.median(s3_times), 3),
        "api_mib_per_s": round(args.small / statistics.median(api_times), 1),
        "s3_mib_per_s": round(args.small / statistics.median(s3_times), 1),
        "ratio_median": round(statistics.median(ratios), 3), "ratio_target": 1.10,
        "ratio_best": round(min(api_times) / min(s3_times), 3),
        "ratios": [round(r, 3) for r in ratios], "api_s": [round(t, 3) for t in api_times],
        "s3_s": [round(t, 3) for t in s3_times], "cpu_s_per_gib": per_gib,
        "idle_rss_mib": round(idle / MIB, 1), "memory": memory, "rss_target_mb": 150, "seal_open": sealing,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"seal + open, {sealing['mib']} MiB in {sealing['segment_bytes'] // 1024} KiB segments: streaming "
          f"{sealing['stream_mb_per_s']:.1f} MB/s vs raw AES-GCM {sealing['raw_mb_per_s']:.1f} MB/s, ratio "
          f"{sealing['stream_ratio']:.2f}x  target >= {sealing['ratio_target']}x")
    print(f"upload {args.small} MiB, {args.pairs} paired runs (records API: seal + multipart to S3 | plain S3 put)"
          + (", S3 server on a CPU of its own" if pinned else ""))
    print(f"  records API  median {result['api_s_median']:6.2f} s  {result['api_mib_per_s']:7.1f} MiB/s")
    print(f"  plain S3 put median {result['s3_s_median']:6.2f} s  {result['s3_mib_per_s']:7.1f} MiB/s")
    print(f"  ratio API/S3 median {result['ratio_median']:.3f}x  (per pair: "
          + ", ".join(f"{r:.2f}" for r in ratios) + ")  target <= 1.10x")
    print(f"  ratio of the best times {result['ratio_best']:.3f}x  (background load slows runs, never speeds them)")
    g = per_gib
    print(f"  CPU seconds per GiB: records service {g['api_service']:.2f} (event loop {g['api_service_loop']:.2f}, "
          f"user {g['api_service_user']:.2f}, system {g['api_service_system']:.2f}) + its client "
          f"{g['api_client']:.2f} | plain S3 client {g['s3_client']:.2f}")
    print(f"  CPU seconds per GiB of the S3 server: serving the API {g['s3_server_api']:.2f} | "
          f"serving the plain put {g['s3_server_plain']:.2f}")
    print("peak RSS of the records service while ingesting (target < 150 MB, flat in size)")
    print(f"  idle, ready, before any upload: {idle / MIB:6.1f} MiB")
    for m in memory:
        print(f"  {m['upload_mib']:5d} MiB upload: peak RSS {m['peak_rss_mib']:6.1f} MiB ({m['peak_rss_mb']:6.1f} MB), "
              f"{m['mib_per_s']:6.1f} MiB/s")


if __name__ == "__main__":
    main()
