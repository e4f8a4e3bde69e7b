"""The chain against real SQLite and PostgreSQL: tampering with any row directly in the database
makes verify fail and name that row; an intact ledger verifies; appends never fork."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.audit import chain
from services.records.audit.keys import AuditKeys, key_id
from services.records.audit.service import Ledger
from services.records.audit.tables import audit_entries
from services.records.audit.verify import verify
from shared.db import create_engine
from tests.support.audit import StepClock, entry

pytestmark = pytest.mark.integration

N = 10


def pub(keys: AuditKeys) -> dict[str, bytes]:
    return {key_id(keys.public_key): keys.public_key}


async def rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(audit_entries).order_by(audit_entries.c.seq))
        return [dict(r) for r in result.mappings().all()]


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text(sql), params)


async def fill(ledger: Ledger, n: int = N) -> None:
    for i in range(1, n + 1):
        await ledger.append(entry(i, reason="asked to review" if i % 2 else None))


async def test_intact_ledger_verifies(ledger: Ledger, engine: AsyncEngine, keys: AuditKeys) -> None:
    assert (await verify(engine, pub(keys))).ok  # empty
    await fill(ledger)
    await ledger.checkpoint()
    report = await verify(engine, pub(keys), batch=3)  # several pages
    assert report.ok, report.problems
    assert (report.entries, report.head_seq, report.checkpoints) == (N, N, 1)
    stored = await rows(engine)
    assert [r["seq"] for r in stored] == list(range(1, N + 1))
    assert stored[0]["prev_hash"] == chain.GENESIS
    assert all(stored[i]["prev_hash"] == stored[i - 1]["hash"] for i in range(1, N))


# -- tampering: each case edits the database directly, then names the seq verify must report -------


async def edit_content(engine: AsyncEngine, _: list[dict[str, Any]]) -> int:
    await execute(engine, "UPDATE audit_entries SET outcome = 'denied' WHERE seq = 5")
    return 5


async def edit_time(engine: AsyncEngine, stored: list[dict[str, Any]]) -> int:
    await execute(engine, "UPDATE audit_entries SET occurred_at = :t WHERE seq = 3",
                  t=stored[0]["occurred_at"])
    return 3


async def edit_and_rehash(engine: AsyncEngine, stored: list[dict[str, Any]]) -> int:
    row = {**stored[6], "action": "record.noop"}
    await execute(engine, "UPDATE audit_entries SET action = 'record.noop', hash = :h WHERE seq = 7",
                  h=chain.entry_hash(row["prev_hash"], row))
    return 7


async def delete_middle(engine: AsyncEngine, _: list[dict[str, Any]]) -> int:
    await execute(engine, "DELETE FROM audit_entries WHERE seq = 4")
    return 4


async def delete_first(engine: AsyncEngine, _: list[dict[str, Any]]) -> int:
    await execute(engine, "DELETE FROM audit_entries WHERE seq = 1")
    return 1


async def delete_last(engine: AsyncEngine, _: list[dict[str, Any]]) -> int:
    await execute(engine, "DELETE FROM audit_entries WHERE seq = :s", s=N)
    return N


async def _shift_up_from(engine: AsyncEngine, seq: int) -> None:
    # Two steps, so no transient duplicate primary key on PostgreSQL.
    await execute(engine, "UPDATE audit_entries SET seq = -(seq + 1) WHERE seq >= :s", s=seq)
    await execute(engine, "UPDATE audit_entries SET seq = -seq WHERE seq < 0")


def _forged(stored: list[dict[str, Any]], seq: int, prev_hash: str) -> dict[str, Any]:
    row = {**stored[seq - 1], "seq": seq, "event_id": "forged", "actor": "user:mallory", "prev_hash": prev_hash}
    row["hash"] = chain.entry_hash(prev_hash, row)
    return row


INSERT = ("INSERT INTO audit_entries (seq, event_id, occurred_at, recorded_at, source, actor, actor_hmac, action,"
          " target, target_hmac, outcome, reason_hmac, reason_sealed, key_id, prev_hash, hash) VALUES (:seq,"
          " :event_id, :occurred_at, :recorded_at, :source, :actor, :actor_hmac, :action, :target, :target_hmac,"
          " :outcome, :reason_hmac, :reason_sealed, :key_id, :prev_hash, :hash)")


async def insert_middle(engine: AsyncEngine, stored: list[dict[str, Any]]) -> int:
    """A well-formed forged row (correct prev_hash and hash) slipped in at 6, later rows renumbered."""
    await _shift_up_from(engine, 6)
    await execute(engine, INSERT, **_forged(stored, 6, stored[4]["hash"]))
    await execute(engine, "UPDATE audit_head SET seq = :s WHERE id = 1", s=N + 1)
    return 6


async def insert_tail(engine: AsyncEngine, stored: list[dict[str, Any]]) -> int:
    """A well-formed row appended after the head, the head row left alone."""
    await execute(engine, INSERT, **_forged(stored, N, stored[-1]["hash"]) | {"seq": N + 1})
    return N + 1


async def insert_garbage(engine: AsyncEngine, stored: list[dict[str, Any]]) -> int:
    await execute(engine, INSERT, **{**stored[-1], "seq": N + 1, "event_id": "junk", "hash": "ab" * 32})
    return N + 1


async def reorder(engine: AsyncEngine, _: list[dict[str, Any]]) -> int:
    await execute(engine, "UPDATE audit_entries SET seq = -1 WHERE seq = 3")
    await execute(engine, "UPDATE audit_entries SET seq = 3 WHERE seq = 8")
    await execute(engine, "UPDATE audit_entries SET seq = 8 WHERE seq = -1")
    return 3


async def swap_reasons(engine: AsyncEngine, stored: list[dict[str, Any]]) -> int:
    await execute(engine, "UPDATE audit_entries SET reason_sealed = :r WHERE seq = 1", r=stored[2]["reason_sealed"])
    return 1


CASES: dict[str, Callable[[AsyncEngine, list[dict[str, Any]]], Awaitable[int]]] = {
    f.__name__: f for f in (edit_content, edit_time, edit_and_rehash, delete_middle, delete_first, delete_last,
                            insert_middle, insert_tail, insert_garbage, reorder, swap_reasons)
}


@pytest.mark.parametrize("case", list(CASES))
async def test_tampering_names_the_row(case: str, ledger: Ledger, engine: AsyncEngine, keys: AuditKeys) -> None:
    await fill(ledger)
    stored = await rows(engine)
    bad = await CASES[case](engine, stored)
    report = await verify(engine, pub(keys))
    assert not report.ok
    assert report.first_bad_seq == bad, report.problems


async def test_rewritten_suffix_is_caught_by_a_checkpoint(ledger: Ledger, engine: AsyncEngine,
                                                          keys: AuditKeys) -> None:
    """Rows 6..10 rewritten with a consistent chain and head: only the signed checkpoint at 8 can tell;
    verify reports the range after the last checkpoint that still matches (4)."""
    for i in range(1, N + 1):
        await ledger.append(entry(i))
        if i in (4, 8):
            await ledger.checkpoint()
    stored = await rows(engine)
    prev = stored[4]["hash"]
    for row in stored[5:]:
        row = {**row, "action": "record.noop", "prev_hash": prev}
        prev = row["hash"] = chain.entry_hash(prev, row)
        await execute(engine, "UPDATE audit_entries SET action = :a, prev_hash = :p, hash = :h WHERE seq = :s",
                      a=row["action"], p=row["prev_hash"], h=row["hash"], s=row["seq"])
    await execute(engine, "UPDATE audit_head SET hash = :h WHERE id = 1", h=prev)
    report = await verify(engine, pub(keys))
    assert report.first_bad_seq == 5
    assert "5..8" in report.problems[0]


@pytest.mark.parametrize("field", ["signature", "hash", "seq"])
async def test_tampered_checkpoint_is_detected(field: str, ledger: Ledger, engine: AsyncEngine,
                                               keys: AuditKeys) -> None:
    await fill(ledger, 3)
    cp = await ledger.checkpoint()
    assert cp is not None and await ledger.checkpoint() is None  # nothing new to sign
    value: Any = {"signature": bytes(64), "hash": "00" * 32, "seq": 2}[field]
    await execute(engine, f"UPDATE audit_checkpoints SET {field} = :v", v=value)  # noqa: S608 - fixed column names
    report = await verify(engine, pub(keys))
    assert not report.ok
    assert any("signature invalid" in p for p in report.problems), report.problems


async def test_checkpoint_with_unknown_key_fails(ledger: Ledger, engine: AsyncEngine) -> None:
    await fill(ledger, 2)
    await ledger.checkpoint()
    other = AuditKeys.generate()
    report = await verify(engine, pub(other))
    assert not report.ok and "unknown key" in report.problems[0]


async def test_redelivered_events_append_once(ledger: Ledger, engine: AsyncEngine, keys: AuditKeys) -> None:
    first = await ledger.append(entry(1))
    again = await ledger.append(entry(1))
    batch = await ledger.append_many([entry(2), entry(2), entry(1), entry(3)])
    assert first.appended and not again.appended and again.seq == first.seq == 1
    assert [(r.seq, r.appended) for r in batch] == [(2, True), (2, False), (1, False), (3, True)]
    assert [r["event_id"] for r in await rows(engine)] == ["ev-000001", "ev-000002", "ev-000003"]
    assert (await verify(engine, pub(keys))).ok


async def test_concurrent_appenders_never_fork(db_url: str, engine: AsyncEngine, keys: AuditKeys) -> None:
    """Two ledgers on two engines (two instances) appending at once: one chain, no gaps."""
    other_engine = create_engine(db_url)
    try:
        a = Ledger(engine, keys, clock=StepClock())
        b = Ledger(other_engine, keys, clock=StepClock())

        async def run(ledger: Ledger, start: int) -> None:
            for i in range(start, start + 15):
                await ledger.append(entry(i))

        await asyncio.gather(run(a, 1), run(b, 100), run(a, 200), run(b, 300))
    finally:
        await other_engine.dispose()
    stored = await rows(engine)
    assert [r["seq"] for r in stored] == list(range(1, 61))
    report = await verify(engine, pub(keys))
    assert report.ok, report.problems


async def test_sensitive_values_are_not_stored_in_clear(ledger: Ledger, engine: AsyncEngine,
                                                        keys: AuditKeys) -> None:
    email, reason = "midwife.jane@example.org", "Complaint about the session on Tuesday"
    await ledger.append(entry(1, actor=email, target="pairing:42", reason=reason))
    await ledger.append(entry(2, actor="user:7", target="jane@example.org"))
    await ledger.append(entry(3, actor="user:7", target="record 9 with free text"))
    async with engine.connect() as conn:
        raw = (await conn.execute(sa.text("SELECT * FROM audit_entries ORDER BY seq"))).all()
    dump = repr(raw).encode() + b"".join(bytes(v) for r in raw for v in r if isinstance(v, bytes | memoryview))
    for secret in (email, "jane@example.org", reason, "Tuesday", "free text"):
        assert secret.encode() not in dump
    first = raw[0]._mapping
    assert first["actor"] is None and first["actor_hmac"] == keys.mac("actor", email)
    assert first["target"] == "pairing:42"
    assert first["reason_hmac"] == keys.mac("reason", reason)
    assert keys.open_reason("ev-000001", first["reason_sealed"]) == reason
    assert raw[1]._mapping["target"] is None and raw[2]._mapping["target"] is None
    # Search by exact value works through the HMAC; content search is not offered at all.
    from services.records.audit.service import SearchFilter

    assert [r.seq for r in await ledger.search(SearchFilter(actor=email))] == [1]
    assert [r.seq for r in await ledger.search(SearchFilter(target="jane@example.org"))] == [2]
    assert await ledger.search(SearchFilter(actor="Midwife.Jane@example.org")) == []


async def test_checkpointer_signs_by_count_and_by_time(ledger: Ledger, engine: AsyncEngine, keys: AuditKeys) -> None:
    from services.records.audit.service import Checkpointer

    by_count = Checkpointer(ledger, every=3, interval_s=0)
    for i in range(1, 7):
        await by_count.after_append(await ledger.append(entry(i)))
    async with engine.connect() as conn:
        seqs = list((await conn.execute(sa.text("SELECT seq FROM audit_checkpoints ORDER BY id"))).scalars())
    assert seqs == [3, 6]
    await ledger.append(entry(7))
    timed = Checkpointer(ledger, every=1000, interval_s=0.05)
    timed.start()
    try:
        async with asyncio.timeout(10):
            while ledger.last_checkpoint_seq != 7:
                await asyncio.sleep(0.02)
    finally:
        await timed.stop()
    report = await verify(engine, pub(keys))
    assert report.ok and report.checkpoints == 3
