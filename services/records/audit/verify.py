"""`verify`: recompute the chain, check the head, every checkpoint signature (database rows and the
object-storage copies) and name the first bad entry.

What each kind of tampering looks like here (row = one `audit_entries` row, edited in the database):
- a row's content edited                 -> its recomputed hash differs: that row.
- a row edited and its hash recomputed   -> the next row no longer links to it: that row.
- a row deleted                          -> a gap in seq: the missing seq.
- a row inserted (later rows renumbered) -> the row after it links past it: the inserted seq.
- rows reordered                         -> the first moved row fails to link / hash: its seq.
- the last rows deleted or a row appended -> head (seq, hash) or a signed checkpoint disagrees.
- the whole suffix rewritten, head too    -> the first signed checkpoint past the rewrite disagrees;
                                            the bad entry is named as the first seq after the last
                                            checkpoint that still matches (the rewrite is within).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.audit import chain
from services.records.audit.archive import CheckpointArchive, signature_bytes
from services.records.audit.tables import audit_checkpoints, audit_entries, audit_head
from shared.crypto import signing


@dataclass
class Anchor:
    """A signed (seq, hash) from a checkpoint row or an archived copy."""

    seq: int
    hash: str
    where: str


@dataclass
class Report:
    entries: int = 0
    head_seq: int = 0
    checkpoints: int = 0
    archived: int = 0
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, seq: int | None, problem: str) -> None:
        self.problems.append(f"seq {seq}: {problem}" if seq is not None else problem)
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq


def _check_signature(public_keys: Mapping[str, bytes], key_id: str, seq: int, head_hash: str,
                     signed_at: object, signature: bytes) -> str | None:
    if not isinstance(signature, bytes):
        return "malformed"
    public = public_keys.get(key_id)
    if public is None:
        return f"signed with unknown key {key_id}"
    try:
        message = chain.checkpoint_message(seq, head_hash, signed_at)  # type: ignore[arg-type]
    except TypeError:
        return "malformed"
    if not signing.verify(public, message, signature):
        return "signature invalid"
    return None


async def verify(engine: AsyncEngine, public_keys: Mapping[str, bytes], *,
                 archive: CheckpointArchive | None = None, batch: int = 5000) -> Report:
    report = Report()
    anchors: list[Anchor] = []
    async with engine.connect() as conn:
        for cp in (await conn.execute(sa.select(audit_checkpoints).order_by(audit_checkpoints.c.id))).all():
            report.checkpoints += 1
            problem = _check_signature(public_keys, cp.key_id, int(cp.seq), cp.hash, cp.signed_at, cp.signature)
            if problem:
                report.bad(None, f"checkpoint #{cp.id} (seq {cp.seq}): {problem}")
            else:
                anchors.append(Anchor(int(cp.seq), cp.hash, f"checkpoint #{cp.id}"))
        head = (await conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)
                                   .where(audit_head.c.id == 1))).one_or_none()
    if archive is not None:
        for name, doc in await asyncio.to_thread(lambda: list(archive.documents())):
            report.archived += 1
            if doc is None:
                report.bad(None, f"archived checkpoint {name}: malformed")
                continue
            problem = _check_signature(public_keys, doc.key_id, doc.seq, doc.hash, doc.signed_at,
                                       signature_bytes(doc))
            if problem:
                report.bad(None, f"archived checkpoint {name}: {problem}")
            else:
                anchors.append(Anchor(doc.seq, doc.hash, f"archived checkpoint {name}"))
    by_seq: dict[int, list[Anchor]] = {}
    for a in anchors:
        by_seq.setdefault(a.seq, []).append(a)

    expected, prev = 1, chain.GENESIS
    prev_prev: str | None = None
    last_good_anchor = 0
    broken = False
    last_seq, last_hash = 0, chain.GENESIS
    async with engine.connect() as conn:
        after = None
        while not broken:
            query = sa.select(audit_entries).order_by(audit_entries.c.seq).limit(batch)
            if after is not None:
                query = query.where(audit_entries.c.seq > after)
            rows = (await conn.execute(query)).mappings().all()
            if not rows:
                break
            for row in rows:
                seq = int(row["seq"])
                after = seq
                report.entries += 1
                if seq != expected:
                    report.bad(expected, "missing (deleted?)" if seq > expected else f"unexpected seq {seq}")
                    broken = True
                    break
                if row["prev_hash"] != prev:
                    if prev_prev is not None and row["prev_hash"] == prev_prev \
                            and chain.entry_hash(prev_prev, {**row, "seq": seq - 1}) \
                            == row["hash"]:
                        # A genuine entry renumbered by one that links past its predecessor.
                        report.bad(seq - 1, "inserted: the next entry links past it")
                    elif row["prev_hash"] != prev_prev and chain.entry_hash(row["prev_hash"], row) == row["hash"]:
                        report.bad(seq - 1, "changed: the next entry links to a different hash")
                    else:
                        report.bad(seq, "does not link to the previous entry")
                    broken = True
                    break
                if chain.entry_hash(prev, row) != row["hash"]:
                    report.bad(seq, "changed: hash does not match its content")
                    broken = True
                    break
                for a in by_seq.get(seq, ()):
                    if a.hash != row["hash"]:
                        report.bad(last_good_anchor + 1,
                                   f"rewritten: entries {last_good_anchor + 1}..{seq} disagree with {a.where}")
                        broken = True
                if broken:
                    break
                if seq in by_seq:
                    last_good_anchor = seq
                prev_prev, prev = prev, row["hash"]
                last_seq, last_hash = seq, row["hash"]
                expected = seq + 1
    if broken:
        return report
    report.head_seq = last_seq
    if head is None:
        report.bad(None, "chain head row missing")
    elif int(head.seq) > last_seq:
        report.bad(last_seq + 1, f"missing: the head records seq {head.seq}")
    elif int(head.seq) < last_seq:
        report.bad(int(head.seq) + 1, "inserted: beyond the recorded head")
    elif head.hash != last_hash:
        report.bad(last_seq, "changed: differs from the recorded head")
    for a in anchors:
        if a.seq > last_seq:
            report.bad(last_seq + 1, f"missing: {a.where} signed seq {a.seq}")
    return report
