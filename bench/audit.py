"""Audit ledger: appends/s and verify time, vs raw inserts / a raw scan of the same rows, in one run.

    python bench/audit.py [--database-url URL] [--appends N] [--verify-entries N]

Ledger append: protect (HMACs, AES-GCM of the reason), take the head lock, chain, insert, move the
head, commit: one transaction per entry (as the consumer does) and batches of 100 (`append_many`).
Raw: the same stored rows INSERTed into a plain table with no lock, no hashing, same transaction
pattern. Verify: `verify()` over a ledger of --verify-entries entries, vs a raw SELECT of the same rows;
the time per 100k entries is extrapolated linearly from that run (verify is one sequential pass).
SQLite (a temporary file) by default; pass a PostgreSQL URL to measure that instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.audit.keys import AuditKeys, key_id
from services.records.audit.service import Ledger, NewEntry
from services.records.audit.tables import audit_entries
from services.records.audit.verify import verify
from shared.db import create_engine, upgrade

MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "records" / "migrations"
T0 = datetime(2026, 1, 1, tzinfo=UTC)

raw_meta = sa.MetaData()
# Same columns and the same indexes as audit_entries: the difference measured is the ledger's work
# (protecting values, the head lock, hashing, moving the head), not index maintenance.
raw_table = sa.Table("bench_raw_entries", raw_meta,
                     *[sa.Column(c.name, c.type, primary_key=c.name == "seq", unique=c.name in ("event_id", "hash"),
                                 index=c.name in ("occurred_at", "actor_hmac", "target_hmac", "action"))
                       for c in audit_entries.columns])


def make_entries(prefix: str, n: int) -> list[NewEntry]:
    return [NewEntry(event_id=f"{prefix}-{i}", occurred_at=T0 + timedelta(seconds=i), source="records",
                     actor=f"user:{i % 50}" if i % 5 else f"person{i % 50}@example.org", action="record.play",
                     target=f"record:{i}", outcome="success", reason="dispute review" if i % 10 == 0 else None)
            for i in range(n)]


async def fresh(url: str) -> AsyncEngine:
    engine = create_engine(url)
    await upgrade(engine, MIGRATIONS)
    async with engine.begin() as conn:
        await conn.run_sync(raw_meta.drop_all)
        await conn.run_sync(raw_meta.create_all)
        if (await conn.execute(sa.select(sa.func.count()).select_from(audit_entries))).scalar_one():
            raise SystemExit("bench/audit.py needs an empty database (it never deletes ledger rows)")
    return engine


async def bench(url: str, appends: int, verify_entries: int) -> dict[str, float]:
    engine = await fresh(url)
    keys = AuditKeys.generate()
    ledger = Ledger(engine, keys)
    out: dict[str, float] = {}
    try:
        # One transaction per entry: ledger vs raw insert of the identical stored rows.
        entries = make_entries("single", appends)
        now = datetime.now(UTC)
        rows = [{**ledger.protect(e, now), "seq": i + 1, "prev_hash": "0" * 64, "hash": f"{i + 1:064x}"}
                for i, e in enumerate(entries)]
        t = time.perf_counter()
        for e in entries:
            await ledger.append(e)
        out["ledger_appends_per_s"] = appends / (time.perf_counter() - t)
        t = time.perf_counter()
        for row in rows:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(raw_table), [row])
        out["raw_inserts_per_s"] = appends / (time.perf_counter() - t)

        # Batches of 100 per transaction.
        batch = make_entries("batch", appends * 5)
        t = time.perf_counter()
        for i in range(0, len(batch), 100):
            await ledger.append_many(batch[i:i + 100])
        out["ledger_batched_appends_per_s"] = len(batch) / (time.perf_counter() - t)
        brows = [{**ledger.protect(e, now), "seq": appends + i + 1, "prev_hash": "0" * 64,
                  "hash": f"{appends + i + 1:064x}"}
                 for i, e in enumerate(batch)]
        t = time.perf_counter()
        for i in range(0, len(brows), 100):
            async with engine.begin() as conn:
                await conn.execute(sa.insert(raw_table), brows[i:i + 100])
        out["raw_batched_inserts_per_s"] = len(brows) / (time.perf_counter() - t)

        # Grow the ledger to verify_entries, then verify vs a raw scan of the same rows.
        have = appends + len(batch)
        filler = make_entries("fill", max(0, verify_entries - have))
        for i in range(0, len(filler), 500):
            await ledger.append_many(filler[i:i + 500])
        await ledger.checkpoint()
        total = (await ledger.head())[0]
        t = time.perf_counter()
        report = await verify(engine, {key_id(keys.public_key): keys.public_key})
        verify_s = time.perf_counter() - t
        assert report.ok and report.entries == total, report.problems
        t = time.perf_counter()
        async with engine.connect() as conn:
            after, seen = 0, 0
            while True:
                page = (await conn.execute(sa.select(audit_entries).where(audit_entries.c.seq > after)
                                           .order_by(audit_entries.c.seq).limit(5000))).mappings().all()
                if not page:
                    break
                after, seen = int(page[-1]["seq"]), seen + len(page)
        scan_s = time.perf_counter() - t
        out["verify_entries"] = total
        out["verify_s"] = verify_s
        out["verify_s_per_100k_extrapolated"] = verify_s * 100_000 / total
        out["raw_scan_s_per_100k_extrapolated"] = scan_s * 100_000 / total
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(raw_meta.drop_all)
        await engine.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an EMPTY database; default: a temporary SQLite file")
    parser.add_argument("--appends", type=int, default=500, help="single-transaction appends (default 500)")
    parser.add_argument("--verify-entries", type=int, default=20_000, help="ledger size for verify (default 20000)")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tandem-bench-audit-") as d:
        url = ns.database_url or f"sqlite:///{d}/audit.db"
        r = asyncio.run(bench(url, ns.appends, ns.verify_entries))
    r["append_ratio_vs_raw"] = r["ledger_appends_per_s"] / r["raw_inserts_per_s"]
    r["batched_ratio_vs_raw"] = r["ledger_batched_appends_per_s"] / r["raw_batched_inserts_per_s"]
    r["verify_ratio_vs_raw_scan"] = r["verify_s_per_100k_extrapolated"] / r["raw_scan_s_per_100k_extrapolated"]
    print(f"database: {'sqlite (temporary file)' if not ns.database_url else url.split('@')[-1]}")
    print(f"appends, 1 per transaction : ledger {r['ledger_appends_per_s']:8.0f}/s   raw insert "
          f"{r['raw_inserts_per_s']:8.0f}/s   ratio {r['append_ratio_vs_raw']:.2f}")
    print(f"appends, 100 per transaction: ledger {r['ledger_batched_appends_per_s']:8.0f}/s   raw insert "
          f"{r['raw_batched_inserts_per_s']:8.0f}/s   ratio {r['batched_ratio_vs_raw']:.2f}")
    print(f"verify {int(r['verify_entries'])} entries in {r['verify_s']:.2f} s -> "
          f"{r['verify_s_per_100k_extrapolated']:.1f} s per 100k (extrapolated, linear); raw scan "
          f"{r['raw_scan_s_per_100k_extrapolated']:.1f} s per 100k; ratio {r['verify_ratio_vs_raw_scan']:.1f}")
    print(json.dumps({k: round(v, 3) for k, v in r.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
