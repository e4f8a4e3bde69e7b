"""Retention, legal holds and crypto-shredding.

Order of erasure (each step survives a crash; the sweeper resumes records left in `shredding`):
1. destroy the wrapped data keys (the ciphertext becomes unreadable at once), state → shredding;
2. delete the objects from S3;
3. keep a tombstone without personal data, sign an erasure receipt, and stage `record.expired`
   plus an audit entry in the outbox, in one transaction.
A legal hold blocks steps 1-3; once step 1 has run, nothing can bring the content back.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.records.core.context import Records, aware
from services.records.core.receipts import digest
from services.records.core.tables import record_objects, records
from services.records.pairings.service import pairings_of
from shared.events.types import AuditEntry, RecordExpired
from shared.logging import get_logger
from shared.objectstore import ObjectNotFound

log = get_logger("tandem.records.retention")


class LegalHoldActive(Exception):
    """The record is under legal hold: it cannot be erased or expire."""


@dataclass
class SweepResult:
    expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class ErasureResult:
    erased: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


def recording_retain_until(captured_at: datetime, days: int) -> datetime:
    return captured_at + timedelta(days=days)


async def shred(rec: Records, record_id: str, *, reason: str, actor: str, require_due: bool = False) -> str:
    """Crypto-shred one record. Returns "expired", "gone" (already expired), "held" or "not_due"."""
    now = rec.clock()
    async with rec.engine.begin() as conn:
        row = (await conn.execute(sa.select(records.c.state, records.c.legal_hold, records.c.retain_until)
                                  .where(records.c.id == record_id))).first()
        if row is None or row.state == "expired":
            return "gone"
        if row.state == "active":
            if row.legal_hold:
                return "held"
            due_at = aware(row.retain_until)
            if require_due and (due_at is None or due_at > now):
                return "not_due"
            # Conditional update: a hold placed meanwhile, or another sweeper, wins the race cleanly.
            started = await conn.execute(
                sa.update(records).where(records.c.id == record_id, records.c.state == "active",
                                         records.c.legal_hold.is_(False))
                .values(state="shredding", expiry_reason=reason, updated_at=now))
            if not started.rowcount:
                return "held"
        # Step 1: the keys go first.
        await conn.execute(sa.update(record_objects)
                           .where(record_objects.c.record_id == record_id, record_objects.c.wrapped_dek.is_not(None))
                           .values(wrapped_dek=None, destroyed_at=now))
    objects = (await _objects(rec, record_id))
    # Step 2: the ciphertext.
    for obj in objects:
        if obj.object_key:
            with contextlib.suppress(ObjectNotFound):
                await _delete(rec, obj.object_key)
    # Step 3: tombstone, receipt, events.
    async with rec.engine.begin() as conn:
        row = (await conn.execute(sa.select(records).where(records.c.id == record_id))).first()
        if row is None or row.state == "expired":
            return "gone"
        reason = row.expiry_reason or reason
        receipt = {
            "type": "tandem.erasure-receipt", "version": 1, "record_id": record_id, "kind": row.kind,
            "reason": reason, "erased_at": now.isoformat(), "signer": rec.signer.kid,
            "objects": [{"version": o.version, "content_sha256": o.content_hash, "kek_version": o.kek_version,
                         "key_destroyed": True, "object_deleted": True} for o in objects],
        }
        hex_digest = digest(receipt)
        signature = rec.signer.sign(hex_digest)
        await conn.execute(sa.update(record_objects).where(record_objects.c.record_id == record_id)
                           .values(object_key=None))
        await conn.execute(sa.update(records).where(records.c.id == record_id).values(
            state="expired", expired_at=now, updated_at=now, expiry_reason=reason,
            pairing_id=None, session_id=None, author_id=None, visibility=None, consent_evidence=None,
            captured_at=None, lease_owner=None, lease_until=None,
            receipt=json.dumps(receipt, sort_keys=True), receipt_digest=hex_digest, receipt_signature=signature))
        if rec.outbox is not None:
            await rec.outbox.add(conn, RecordExpired(record_id=record_id, kind=row.kind, reason=reason,
                                                     digest=hex_digest, signature=signature), subject=record_id)
            await rec.outbox.add(conn, AuditEntry(actor=actor, action=f"record.{reason}", target=f"record:{record_id}",
                                                  outcome="success"), subject=f"record:{record_id}")
    log.info("records.shredded", record_id=record_id, reason=reason, digest=hex_digest)
    return "expired"


async def _objects(rec: Records, record_id: str) -> list[Any]:
    async with rec.engine.connect() as conn:
        return list((await conn.execute(
            sa.select(record_objects.c.version, record_objects.c.object_key, record_objects.c.content_hash,
                      record_objects.c.kek_version)
            .where(record_objects.c.record_id == record_id).order_by(record_objects.c.version))).all())


async def _delete(rec: Records, key: str) -> None:
    import asyncio

    await asyncio.to_thread(rec.store.delete, key)


async def claim_due(rec: Records, limit: int) -> list[str]:
    """Lease up to `limit` due records to this instance (multi-instance safe: SKIP LOCKED + lease)."""
    now = rec.clock()
    due = sa.or_(
        sa.and_(records.c.state == "active", records.c.legal_hold.is_(False), records.c.retain_until <= now),
        records.c.state == "shredding",
    )
    lease_free = sa.or_(records.c.lease_until.is_(None), records.c.lease_until < now)
    claimed: list[str] = []
    async with rec.engine.begin() as conn:
        ids = [r[0] for r in await conn.execute(
            sa.select(records.c.id).where(due, lease_free).order_by(records.c.retain_until).limit(limit)
            .with_for_update(skip_locked=True))]
        for rid in ids:
            res = await conn.execute(sa.update(records).where(records.c.id == rid, lease_free)
                                     .values(lease_owner=rec.instance[:64],
                                             lease_until=now + timedelta(seconds=rec.settings.sweep_lease_s)))
            if res.rowcount:
                claimed.append(rid)
    return claimed


async def sweep_once(rec: Records) -> SweepResult:
    """Expire every record past retain_until that no legal hold protects."""
    result = SweepResult()
    while True:
        batch = await claim_due(rec, rec.settings.sweep_batch)
        if not batch:
            return result
        for rid in batch:
            try:
                outcome = await shred(rec, rid, reason="retention", actor="system:retention", require_due=True)
            except Exception as exc:  # noqa: BLE001 - one failing record must not stop the sweep; lease expires
                log.warning("records.shred_failed", record_id=rid, exc_type=type(exc).__name__)
                result.failed.append(rid)
                continue
            if outcome == "expired":
                result.expired.append(rid)
            else:
                async with rec.engine.begin() as conn:
                    await conn.execute(sa.update(records).where(records.c.id == rid)
                                       .values(lease_owner=None, lease_until=None))
        if result.failed:
            return result  # failed ones stay leased until their lease ends; don't spin on them


async def erase_record(rec: Records, record_id: str, *, actor: str) -> str:
    """Right to erasure for one record; raises LegalHoldActive while a hold stands."""
    outcome = await shred(rec, record_id, reason="erasure", actor=actor)
    if outcome == "held":
        raise LegalHoldActive(record_id)
    return outcome


async def erase_for_user(rec: Records, user_id: str, *, request_id: str) -> ErasureResult:
    """Erasure request of a user: the notes they wrote and the recordings they appear in (recordings of
    their pairings). Notes the other member wrote are that member's records and stay. Held records are
    kept and reported."""
    result = ErasureResult()
    async with rec.engine.connect() as conn:
        pairing_ids = await pairings_of(conn, user_id)
        rows = await conn.execute(sa.select(records.c.id).where(
            records.c.state != "expired",
            sa.or_(sa.and_(records.c.kind == "note", records.c.author_id == user_id),
                   sa.and_(records.c.kind == "recording", records.c.pairing_id.in_(pairing_ids)))))
        ids = [r[0] for r in rows]
    for rid in ids:
        outcome = await shred(rec, rid, reason="erasure", actor=f"erasure-request:{request_id}")
        (result.held if outcome == "held" else result.erased).append(rid)
    return result


async def set_legal_hold(rec: Records, *, held: bool, record_ids: Iterable[str] = (),
                         session_id: str | None = None, actor: str = "system") -> int:
    """Place or lift a legal hold on records (by id and/or by session); returns rows changed.
    Records already being shredded cannot be held: their keys are gone."""
    ids = list(record_ids)
    conds: list[sa.ColumnElement[bool]] = []
    if ids:
        conds.append(records.c.id.in_(ids))
    if session_id:
        conds.append(records.c.session_id == session_id)
    if not conds:
        return 0
    async with rec.engine.begin() as conn:
        res = await conn.execute(sa.update(records).where(sa.or_(*conds), records.c.state == "active")
                                 .values(legal_hold=held, updated_at=rec.clock()))
        if rec.outbox is not None and res.rowcount:
            await rec.outbox.add(conn, AuditEntry(actor=actor, action="record.legal_hold." + ("placed" if held
                                                                                               else "lifted"),
                                                  target=f"session:{session_id}" if session_id else
                                                  f"records:{','.join(sorted(ids))[:150]}", outcome="success"))
        return int(res.rowcount or 0)
