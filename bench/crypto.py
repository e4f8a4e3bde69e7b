"""Streaming AEAD throughput vs raw AES-256-GCM on the same 64 KiB chunks, measured in the same run.

Run: `.venv/bin/python bench/crypto.py [--mib 64] [--rounds 5]` (well under 30 s). Prints MB/s for
StreamSealer + iter_unseal (streaming), seal + unseal (whole object in memory), and the raw AESGCM baseline
(encrypt + decrypt each chunk with a fresh nonce), and the ratio to the baseline (target >= 0.8x).
Rounds interleave the three and the best of each is kept, to damp noise from other processes.
The whole-object pair builds two 64 MiB results, so large allocations dominate it (docs/encryption.md §8).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.crypto import StreamContext, StreamSealer, iter_unseal, new_data_key, seal, unseal
from shared.crypto.primitives import Aes256Gcm  # baseline: the AES-GCM the stream uses

CHUNK = 64 * 1024


def best_seconds(fns: list[Callable[[], object]], rounds: int) -> list[float]:
    """Best time of each function; rounds interleave them so background load hits all alike."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


TARGET = 0.8


def measure(mib: int = 64, rounds: int = 5) -> dict[str, float]:
    """MB/s of the raw baseline, streaming seal + open and whole-object seal + open, with the ratios
    (also used by bench/records.py, whose one run reports it beside the upload)."""
    size = mib * 1024 * 1024
    data = os.urandom(size)
    chunks = [data[i : i + CHUNK] for i in range(0, size, CHUNK)]
    dek = new_data_key()
    ctx = StreamContext("bench-record", "recording")

    aead = Aes256Gcm(dek)
    nonces = [os.urandom(12) for _ in chunks]

    def raw() -> None:
        sealed = [aead.encrypt(n, c, b"") for n, c in zip(nonces, chunks, strict=True)]
        for n, c in zip(nonces, sealed, strict=True):
            aead.decrypt(n, c, b"")

    def stream_parts() -> list[bytes]:
        sealer = StreamSealer(dek, ctx, segment_size=CHUNK)
        parts = [sealer.header]
        parts.extend(sealer.update(c) for c in chunks)
        parts.append(sealer.finalize())
        return parts

    def stream_iter() -> None:
        for _ in iter_unseal(dek, ctx, stream_parts()):
            pass

    def stream_whole() -> None:
        unseal(dek, ctx, seal(dek, ctx, data, segment_size=CHUNK))

    # Correctness first: a bench of something wrong measures nothing.
    assert b"".join(iter_unseal(dek, ctx, stream_parts())) == data
    assert unseal(dek, ctx, b"".join(stream_parts())) == data

    mb = size / 1e6
    t_raw, t_iter, t_whole = best_seconds([raw, stream_iter, stream_whole], rounds)
    return {"mib": mib, "segment_bytes": CHUNK, "rounds": rounds, "raw_mb_per_s": round(mb / t_raw, 1),
            "stream_mb_per_s": round(mb / t_iter, 1), "whole_mb_per_s": round(mb / t_whole, 1),
            "stream_ratio": round(t_raw / t_iter, 3), "whole_ratio": round(t_raw / t_whole, 3),
            "ratio_target": TARGET}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    r = measure(args.mib, args.rounds)
    print(f"payload {args.mib} MiB, chunk/segment {CHUNK} B, best of {args.rounds} rounds (seal + open)")
    print(f"raw AESGCM encrypt+decrypt            {r['raw_mb_per_s']:8.1f} MB/s  (baseline)")
    print(f"StreamSealer + iter_unseal (streaming) {r['stream_mb_per_s']:8.1f} MB/s  ratio {r['stream_ratio']:.2f}x")
    print(f"seal + unseal (whole object in memory){r['whole_mb_per_s']:8.1f} MB/s  ratio {r['whole_ratio']:.2f}x")
    verdict = "PASS" if r["stream_ratio"] >= TARGET else "BELOW TARGET"
    print(f"streaming ratio target >= {TARGET}x: {verdict}")


if __name__ == "__main__":
    main()
