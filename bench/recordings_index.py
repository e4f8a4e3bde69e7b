"""Ingest of a recorder WebM (indexed: two passes) vs the same number of random bytes (one pass), through
the records API, measured in one run against a private SeaweedFS (the service set up as in bench/records.py).

Run: `.venv/bin/python bench/recordings_index.py` (about a minute and a half); `--json` prints one JSON
document; `--small` is the WebM's size in MiB for the paired runs, `--size` the larger one for the RSS check.

The records service learns a recorder WebM's length and seek index while the body streams in and, once
it is stored as object A, reads its clusters back from A and seals them again behind a new head as
object B (services/records/recordings/finishing.py). Random bytes are not a WebM: the index gives up on
the first chunk and the body is stored once. So the indexed side costs a read and a write more.
Expected: about 2x the time of the one-pass ingest (the second pass moves the same bytes through the
same S3 server again: a read and a write more), and about twice the CPU per GiB.
Measured (2026-12-05, 2 cores shared with other work, load average 5-8): median ratio 2.95x and 2.61x
(2.67x in an earlier run), more than 2x: the service spends ~4x the CPU per GiB (9.2-9.8 vs 2.2-2.3; the
index's EBML walk alone ~3), the S3 server ~3x (28-31 vs 9.6-9.7; the read-back is one ranged GET per
1 MiB window). Peak RSS while indexing grew ~12 MiB per GiB recorded (per-Cluster audio cues); since the
index keeps video cues only, it is flat (145.6 MB at 514 MiB). Details: docs/records.md "Performance".

- The WebM: made once, in memory, by the recorder's real muxer (`WebmMuxer`) from synthetic frames:
  2 members, VP8 1.5 Mbit/s each at 30 fps with a keyframe every 4 s (a keyframe carries the VP8 frame
  tag, start code and 1280x720; delta frames have the frame tag's bit 0 set; the rest is random), and
  50 ~100-byte "Opus" packets a second each (the muxer does not decode). About 3.1 Mbit/s: `--small`
  MiB is that many seconds of a call. `WebmIndex` must find it complete before anything is measured,
  and each indexed ingest must come back with the indexed object's size (so the second pass ran).
- Throughput: `--pairs` paired runs (WebM, then random, alternating which goes first), the median of
  the per-pair time ratios, and the ratio of the best times as a check.
- CPU-seconds per GiB ingested, each side: the records service (and its event loop), its client, and
  the S3 server serving it.
- Peak RSS of the service (sampled every 20 ms) while ingesting the WebM at `--small` and `--size` MiB,
  and random bytes at `--small` for comparison; target < 150 MB and flat in size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
from joserfc.jwk import OKPKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.records import (
    META,
    MIB,
    RssSampler,
    chunks,
    cpu_of,
    records_service,
    service_options,
    token,
    wait_ready,
)
from services.records.recordings.webm import WebmIndex
from services.sessions.recorder.muxer import WebmMuxer

MEMBERS = ("a", "b")
VIDEO_BPS = 1_500_000  # per member
FPS = 30
KEYFRAME_S = 4
AUDIO_PPS = 50  # 20 ms Opus packets, per member
AUDIO_BYTES = 100
NOMINAL_BPS = len(MEMBERS) * (VIDEO_BPS + AUDIO_PPS * AUDIO_BYTES * 8)
WIDTH, HEIGHT = 1280, 720
POOL = os.urandom(4 * MIB)  # frame payloads are slices of it (incompressible)


class _Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def recorder_webm(seconds: float) -> bytes:
    """What the recorder streams for a call of `seconds` (see the module's docstring)."""
    rnd = random.Random(7)
    gop = FPS * KEYFRAME_S
    delta = VIDEO_BPS * KEYFRAME_S // 8 // (gop - 1 + 8)  # a keyframe weighs about 8 delta frames
    key_tag = b"\x10\x02\x00\x9d\x01\x2a" + WIDTH.to_bytes(2, "little") + HEIGHT.to_bytes(2, "little")
    delta_tag = b"\x31\x02\x00"  # bit 0 of the frame tag: not a keyframe
    offset = 0

    def payload(n: int) -> bytes:
        nonlocal offset
        if offset + n > len(POOL):
            offset = 0
        offset += n
        return POOL[offset - n:offset]

    out: list[bytes] = []
    clock = _Clock()
    mux = WebmMuxer(MEMBERS, out.append, clock=clock, hold_s=0.5)
    tick = FPS * AUDIO_PPS // 10  # 150 Hz: every video frame and audio packet falls on a tick
    for step in range(int(seconds * tick)):
        clock.t = step / tick
        if step % (tick // AUDIO_PPS) == 0:
            for m in MEMBERS:
                mux.add(m, "audio", payload(AUDIO_BYTES + rnd.randint(-20, 20)), step // (tick // AUDIO_PPS) * 960)
        if step % (tick // FPS) == 0:
            frame = step // (tick // FPS)
            for m in MEMBERS:
                if frame % gop == 0:
                    data = key_tag + payload(int(8 * delta * rnd.uniform(0.8, 1.2)))
                else:
                    data = delta_tag + payload(int(delta * rnd.uniform(0.7, 1.3)))
                mux.add(m, "video", data, frame * 3000)
    mux.close()
    return b"".join(out)


def webm_of(mib: int) -> tuple[bytes, int]:
    """A recorder WebM of about `mib` MiB and the size of its indexed object; exits if it does not index."""
    webm = recorder_webm(mib * MIB * 8 / NOMINAL_BPS)
    index = WebmIndex()
    for at in range(0, len(webm), MIB):
        index.feed(webm[at:at + MIB])
    index.finish()
    if not index.complete:
        raise SystemExit(f"the generated WebM does not index: {index.failed}")
    start, end = index.body
    return webm, len(index.head()) + end - start


def pieces(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for at in range(0, len(data), MIB):
        yield bytes(view[at:at + MIB])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=128, help="WebM size in MiB for the paired runs")
    parser.add_argument("--size", type=int, default=512, help="larger WebM in MiB (peak RSS, flat in size)")
    parser.add_argument("--pairs", type=int, default=7, help="paired WebM/random runs for the ratio")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    service_options(parser)
    args = parser.parse_args()
    start = time.perf_counter()
    webm, indexed_size = webm_of(args.small)
    made_s = time.perf_counter() - start
    with records_service(args) as (port, key, s3, pinned):
        result = run(args, port, key, psutil.Process(s3.proc.pid), webm, indexed_size)
    result.update(pinned=pinned, webm_made_s=round(made_s, 2))
    report(args, result)


def run(args: argparse.Namespace, port: int, key: OKPKey, s3_proc: psutil.Process, webm: bytes,
        indexed_size: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=600)
    service_pid = wait_ready(client, base)
    service = psutil.Process(service_pid)
    me = psutil.Process()
    cpu: dict[str, float] = {}

    def loop_cpu() -> float:  # the service's main thread runs the event loop
        return next(float(t.user_time + t.system_time) for t in service.threads() if t.id == service_pid)

    def ingest(side: str, body: Iterator[bytes], expect_size: int) -> float:
        before = cpu_of(service), loop_cpu(), cpu_of(me), cpu_of(s3_proc)
        start = time.perf_counter()
        resp = client.post(f"{base}/internal/recordings", content=body,
                           headers={"tandem-assertion": token(key), "tandem-recording": META,
                                    "content-type": "video/webm"})
        elapsed = time.perf_counter() - start
        after = cpu_of(service), loop_cpu(), cpu_of(me), cpu_of(s3_proc)
        for name, b, a in zip(("service", "service_loop", "client", "s3_server"), before, after, strict=True):
            cpu[f"{side}_{name}"] = cpu.get(f"{side}_{name}", 0.0) + a - b
        if resp.status_code != 201:
            raise SystemExit(f"ingest failed: {resp.status_code} {resp.text[:200]}")
        if resp.json()["size"] != expect_size:  # the indexed object (second pass) or the body as it came
            raise SystemExit(f"{side}: stored {resp.json()['size']} bytes, expected {expect_size}")
        return elapsed

    def indexed() -> float:
        return ingest("indexed", pieces(webm), indexed_size)

    def plain() -> float:
        return ingest("plain", chunks(len(webm)), len(webm))

    idle = service.memory_info().rss
    indexed()
    plain()  # warm-up: connections, imports, bucket
    cpu.clear()
    ratios, indexed_times, plain_times = [], [], []
    for i in range(args.pairs):
        if i % 2 == 0:
            a, b = indexed(), plain()
        else:
            b = plain()
            a = indexed()
        indexed_times.append(a)
        plain_times.append(b)
        ratios.append(a / b)
    gib = len(webm) * args.pairs / (1024 * MIB)
    per_gib = {k: round(v / gib, 2) for k, v in sorted(cpu.items())}

    def peak_rss(side: str, size: int, fn: Callable[[], float]) -> dict[str, Any]:
        sampler = RssSampler(service_pid)
        sampler.start()
        t = fn()
        peak = sampler.stop()
        return {"side": side, "mib": round(size / MIB, 1), "peak_rss_mib": round(peak / MIB, 1),
                "peak_rss_mb": round(peak / 1e6, 1), "mib_per_s": round(size / MIB / t, 1)}

    memory = [peak_rss("plain", len(webm), plain), peak_rss("indexed", len(webm), indexed)]
    large, large_indexed = webm_of(args.size)
    memory.append(peak_rss("indexed", len(large), lambda: ingest("large", pieces(large), large_indexed)))
    small_peak, large_peak = memory[1]["peak_rss_mib"], memory[2]["peak_rss_mib"]
    growth = (large_peak - small_peak) / ((len(large) - len(webm)) / (1024 * MIB))
    return {
        "webm_mib": round(len(webm) / MIB, 1), "webm_call_s": round(len(webm) * 8 / NOMINAL_BPS),
        "indexed_mib": round(indexed_size / MIB, 1), "pairs": args.pairs,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "indexed_s_median": round(statistics.median(indexed_times), 3),
        "plain_s_median": round(statistics.median(plain_times), 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_best": round(min(indexed_times) / min(plain_times), 3),
        "ratios": [round(r, 3) for r in ratios], "indexed_s": [round(t, 3) for t in indexed_times],
        "plain_s": [round(t, 3) for t in plain_times], "cpu_s_per_gib": per_gib,
        "idle_rss_mib": round(idle / MIB, 1), "memory": memory, "rss_target_mb": 150,
        "indexed_rss_growth_mib_per_gib": round(growth, 1),
    }


def report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(r, indent=2))
        return
    mib = r["webm_mib"]
    print(f"ingest of a recorder WebM, {mib} MiB (~{r['webm_call_s']} s of a call, made in {r['webm_made_s']} s; "
          f"indexed object {r['indexed_mib']} MiB) vs as many random bytes, {r['pairs']} paired runs"
          + (", S3 server on a CPU of its own" if r["pinned"] else ""))
    print(f"  indexed (two passes) median {r['indexed_s_median']:6.2f} s  {mib / r['indexed_s_median']:7.1f} MiB/s")
    print(f"  random (one pass)    median {r['plain_s_median']:6.2f} s  {mib / r['plain_s_median']:7.1f} MiB/s")
    print(f"  ratio indexed/random median {r['ratio_median']:.3f}x  (per pair: "
          + ", ".join(f"{x:.2f}" for x in r["ratios"]) + ")  expected about 2x")
    print(f"  ratio of the best times {r['ratio_best']:.3f}x")
    g = r["cpu_s_per_gib"]
    for side in ("indexed", "plain"):
        print(f"  CPU seconds per GiB, {side:7s}: records service {g[f'{side}_service']:.2f} (event loop "
              f"{g[f'{side}_service_loop']:.2f}) + its client {g[f'{side}_client']:.2f} | S3 server "
              f"{g[f'{side}_s3_server']:.2f}")
    print("peak RSS of the records service while ingesting (target < 150 MB, flat in size)")
    print(f"  idle, ready, before any upload: {r['idle_rss_mib']:6.1f} MiB")
    for m in r["memory"]:
        print(f"  {m['mib']:7.1f} MiB {m['side']:7s}: peak RSS {m['peak_rss_mib']:6.1f} MiB "
              f"({m['peak_rss_mb']:6.1f} MB), {m['mib_per_s']:6.1f} MiB/s")
    print(f"  indexed: peak RSS grows {r['indexed_rss_growth_mib_per_gib']:.1f} MiB per GiB of recording "
          "(flat: about 0)")


if __name__ == "__main__":
    main()
