"""Recording ingest through the records API vs a plain S3 put of the same bytes, and the service's
peak RSS while uploading, measured in one run against a private SeaweedFS.

Run: `.venv/bin/python bench/records.py` (about a minute) or `--size 1024` for a 1 GiB upload.
- Throughput: paired runs (API upload, then a plain MinIO-SDK multipart put of the same stream,
  same part size, same endpoint), `--pairs` times at `--small` MiB; the median of the per-pair
  ratios is reported (target <= 1.10x). Single runs on a shared 2-core machine vary by 15-20%.
- Memory: the records service runs as its own uvicorn process; its RSS is sampled every 20 ms
  while it ingests `--small` MiB and `--size` MiB. Peak RSS should stay < 150 MB and flat in size.
"""

from __future__ import annotations

import argparse
import base64
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

from deploy.local.children import free_port, start_redis, start_seaweed

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="large upload in MiB (1024 for 1 GiB)")
    parser.add_argument("--small", type=int, default=128, help="small upload in MiB (ratio runs)")
    parser.add_argument("--pairs", type=int, default=5, help="paired API/S3 runs for the ratio")
    parser.add_argument("--no-malloc-tuning", action="store_true",
                        help="run the service without MALLOC_ARENA_MAX=2 / MALLOC_MMAP_THRESHOLD_=262144")
    args = parser.parse_args()

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
            # Recommended for the records service in deployment (docs/records.md): few heap arenas for
            # the upload threads, and 5 MiB parts always mmap-ed, so freed parts go back to the OS.
            env.setdefault("MALLOC_ARENA_MAX", "2")
            env.setdefault("MALLOC_MMAP_THRESHOLD_", "262144")
        service = subprocess.Popen([sys.executable, "-m", "services.records"], env=env,
                                   cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL)
        try:
            run(args, port, key, s3)
        finally:
            service.terminate()
            service.wait(15)
            redis.stop()
            s3.stop()


def token(key: OKPKey) -> str:
    now = int(time.time())
    claims = {"iss": "tandem-gateway", "sub": "svc-bench", "aud": "records", "roles": ["service"], "iat": now,
              "exp": now + 60, "jti": uuid.uuid4().hex, "sid": "bench"}
    return jwt.encode({"alg": "Ed25519", "kid": key.kid}, claims, key, algorithms=["Ed25519"])


def run(args: argparse.Namespace, port: int, key: OKPKey, s3: object) -> None:
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=600)
    for _ in range(300):
        try:
            if client.get(f"{base}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise SystemExit("records service did not become ready")
    service_pid = next(p.pid for p in psutil.Process().children() if "services.records" in " ".join(p.cmdline()))
    minio = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)  # type: ignore[attr-defined]
    if not minio.bucket_exists("bench-plain"):
        minio.make_bucket("bench-plain")
    meta = base64.urlsafe_b64encode(json.dumps({"session_id": "s-bench", "pairing_id": "p-bench",
                                                "consent_evidence": []}).encode()).decode().rstrip("=")

    cpu: dict[str, float] = {"api_service": 0.0, "api_client": 0.0, "s3_client": 0.0}
    service_proc = psutil.Process(service_pid)
    me = psutil.Process()

    def cpu_of(proc: psutil.Process) -> float:
        t = proc.cpu_times()
        return float(t.user + t.system)

    def api_upload(size: int) -> float:
        s0, c0 = cpu_of(service_proc), cpu_of(me)
        start = time.perf_counter()
        resp = client.post(f"{base}/internal/recordings", content=chunks(size),
                           headers={"tandem-assertion": token(key), "tandem-recording": meta,
                                    "content-type": "video/webm"})
        elapsed = time.perf_counter() - start
        cpu["api_service"] += cpu_of(service_proc) - s0
        cpu["api_client"] += cpu_of(me) - c0
        if resp.status_code != 201:
            raise SystemExit(f"ingest failed: {resp.status_code} {resp.text[:200]}")
        return elapsed

    def plain_put(size: int) -> float:
        c0 = cpu_of(me)
        start = time.perf_counter()
        minio.put_object("bench-plain", uuid.uuid4().hex, ChunkReader(size), length=-1, part_size=PART)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - start
        cpu["s3_client"] += cpu_of(me) - c0
        return elapsed

    idle = psutil.Process(service_pid).memory_info().rss
    small = args.small * MIB
    api_upload(16 * MIB)
    plain_put(16 * MIB)  # warm-up: connections, imports, bucket
    cpu.update({k: 0.0 for k in cpu})
    ratios, api_times, s3_times = [], [], []
    for i in range(args.pairs):
        a, b = (api_upload(small), plain_put(small)) if i % 2 == 0 else (0.0, plain_put(small))
        if i % 2 == 1:
            a = api_upload(small)
        api_times.append(a)
        s3_times.append(b)
        ratios.append(a / b)
    print(f"upload {args.small} MiB, {args.pairs} paired runs (records API: seal + multipart to S3 | plain S3 put)")
    print(f"  records API  median {statistics.median(api_times):6.2f} s  "
          f"{args.small / statistics.median(api_times):7.1f} MiB/s")
    print(f"  plain S3 put median {statistics.median(s3_times):6.2f} s  "
          f"{args.small / statistics.median(s3_times):7.1f} MiB/s")
    print(f"  ratio API/S3 median {statistics.median(ratios):.3f}x  (per pair: "
          + ", ".join(f"{r:.2f}" for r in ratios) + ")  target <= 1.10x")
    total = args.small * args.pairs
    print(f"  CPU seconds per GiB: records service {cpu['api_service'] / total * 1024:.2f} + its client "
          f"{cpu['api_client'] / total * 1024:.2f} | plain S3 client {cpu['s3_client'] / total * 1024:.2f} "
          f"(the S3 server's own CPU is the same in both)")

    print("peak RSS of the records service while ingesting (target < 150 MB, flat in size)")
    print(f"  idle, ready, before any upload: {idle / MIB:6.1f} MiB")
    for size_mib in (args.small, args.size):
        sampler = RssSampler(service_pid)
        sampler.start()
        t = api_upload(size_mib * MIB)
        peak = sampler.stop()
        print(f"  {size_mib:5d} MiB upload: peak RSS {peak / MIB:6.1f} MiB ({peak / 1e6:6.1f} MB), "
              f"{size_mib / t:6.1f} MiB/s")


if __name__ == "__main__":
    main()
