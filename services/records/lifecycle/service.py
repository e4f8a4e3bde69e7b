"""The one owner of a record's life: every write to the `records` and `record_objects` tables is here.

A record is created (a note, a new version of it, a recording), may have its consent evidence
completed, is scheduled to expire, held and released, and finally erased. Callers say which of these
they mean; what each does to the rows is decided here, and nowhere else. How long records are kept
is the retention policy's business (retention/): this module is told the date.

Order of erasure (each step survives a crash; the sweeper resumes records left in `shredding`):
1. destroy the wrapped data keys (the ciphertext becomes unreadable at once), state → shredding;
2. delete the objects from the object store;
3. keep a tombstone without personal data, sign an erasure receipt, and stage `record.expired`
   plus an audit entry in the outbox, in one transaction.
A legal hold blocks steps 1-3; once step 1 has run, nothing can bring the content back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.records.adapters.receipts import ReceiptSigner, digest
from services.records.adapters.vault import SealedObject, Vault
from services.records.lifecycle.tables import record_objects, records
from shared.clock import Clock, aware, utcnow
from shared.events.types import AuditEntry, RecordExpired
from shared.logging import get_logger
from shared.objectstore import ObjectNotFound
from shared.outbox import Outbox

log = get_logger("tandem.records.lifecycle")

Row = sa.Row[Any]
Erased = Literal["expired", "gone", "held", "not_due"]
NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
RECORDING_MEDIA_TYPE = "video/webm"


def _object_row(record_id: str, version: int, sealed: SealedObject, at: datetime) -> dict[str, object]:
    return {"id": secrets.token_hex(16), "record_id": record_id, "version": version, "object_key": sealed.object_key,
            "crypto_id": sealed.crypto_id, "plaintext_size": sealed.plaintext_size,
            "ciphertext_size": sealed.ciphertext_size, "segment_size": sealed.segment_size,
            "content_hash": sealed.content_hash, "kek_version": sealed.kek_version, "wrapped_dek": sealed.wrapped_dek,
            "created_at": at}


async def _row(conn: AsyncConnection, record_id: str) -> Row:
    return (await conn.execute(sa.select(records).where(records.c.id == record_id))).one()


@dataclass(frozen=True, kw_only=True)
class Lifecycle:
    engine: AsyncEngine
    vault: Vault
    signer: ReceiptSigner
    outbox: Outbox
    clock: Clock = utcnow

    # -- creation (in the caller's transaction, next to its events) ------------------------------------

    async def create_note_record(self, conn: AsyncConnection, *, record_id: str, pairing_id: str, author_id: str,
                                 visibility: str, sealed: SealedObject, at: datetime) -> Row:
        """A new note (version 1): no expiry until its pairing ends."""
        await conn.execute(sa.insert(records).values(
            id=record_id, kind="note", state="active", pairing_id=pairing_id, author_id=author_id,
            visibility=visibility, current_version=1, media_type=NOTE_MEDIA_TYPE, created_at=at, updated_at=at,
            retain_until=None, legal_hold=False))
        await conn.execute(sa.insert(record_objects).values(**_object_row(record_id, 1, sealed, at)))
        return await _row(conn, record_id)

    async def add_note_version(self, conn: AsyncConnection, *, record_id: str, after_version: int, visibility: str,
                               sealed: SealedObject, at: datetime) -> Row | None:
        """The next version of a live note, if it is still at `after_version`; None when it moved on."""
        version = after_version + 1
        moved = await conn.execute(
            sa.update(records).where(records.c.id == record_id, records.c.state == "active",
                                     records.c.current_version == after_version)
            .values(current_version=version, updated_at=at, visibility=visibility))
        if not moved.rowcount:
            return None
        await conn.execute(sa.insert(record_objects).values(**_object_row(record_id, version, sealed, at)))
        return await _row(conn, record_id)

    async def create_recording_record(self, conn: AsyncConnection, *, record_id: str, pairing_id: str,
                                      session_id: str, captured_at: datetime, retain_until: datetime,
                                      consent_evidence: dict[str, object], sealed: SealedObject, at: datetime,
                                      duration_ms: int | None = None,
                                      held_while: sa.ColumnElement[bool] | None = None) -> Row:
        """A new recording, stored whole, with its expiry already set. While `held_while` is true (a dispute
        about its session stands) it is held from its first moment, with the session's other live records
        not held yet; that is part of the creation, with no audit entry of its own."""
        await conn.execute(sa.insert(records).values(
            id=record_id, kind="recording", state="active", pairing_id=pairing_id, session_id=session_id,
            current_version=1, media_type=RECORDING_MEDIA_TYPE, created_at=at, updated_at=at, captured_at=captured_at,
            retain_until=retain_until, legal_hold=False, consent_evidence=json.dumps(consent_evidence, sort_keys=True),
            duration_ms=duration_ms))
        await conn.execute(sa.insert(record_objects).values(**_object_row(record_id, 1, sealed, at)))
        if held_while is not None:
            await self._hold(conn, sa.and_(records.c.session_id == session_id, held_while), held=True, actor=None,
                             target="", changes_only=True, touch=False)
        return await _row(conn, record_id)

    async def consent_evidence(self, conn: AsyncConnection, record_id: str, session_id: str) -> object | None:
        """The stored consent evidence of a live recording of `session_id` (None: none, or no such recording)."""
        raw = (await conn.execute(sa.select(records.c.consent_evidence).where(
            records.c.id == record_id, records.c.kind == "recording", records.c.session_id == session_id))).scalar()
        return json.loads(raw) if raw else None

    async def replace_consent_evidence(self, conn: AsyncConnection, record_id: str,
                                       evidence: dict[str, object]) -> None:
        await conn.execute(sa.update(records).where(records.c.id == record_id)
                           .values(consent_evidence=json.dumps(evidence, sort_keys=True)))

    # -- expiry ---------------------------------------------------------------------------------------

    async def schedule_note_expiry(self, conn: AsyncConnection, pairing_id: str, retain_until: datetime) -> int:
        """Start the retention clock of a pairing's live notes (those not scheduled yet); returns how many."""
        result = await conn.execute(
            sa.update(records)
            .where(records.c.pairing_id == pairing_id, records.c.kind == "note", records.c.state == "active",
                   records.c.retain_until.is_(None))
            .values(retain_until=retain_until))
        return int(result.rowcount or 0)

    # -- legal holds ----------------------------------------------------------------------------------

    async def place_hold(self, *, record_ids: Iterable[str] = (), session_id: str | None = None,
                         actor: str = "system") -> int:
        """Hold live records (by id and/or by session); returns the rows set. Records already being
        shredded cannot be held: their keys are gone."""
        return await self._set_hold(True, record_ids, session_id, actor)

    async def release_hold(self, *, record_ids: Iterable[str] = (), session_id: str | None = None,
                           actor: str = "system") -> int:
        return await self._set_hold(False, record_ids, session_id, actor)

    async def _set_hold(self, held: bool, record_ids: Iterable[str], session_id: str | None, actor: str) -> int:
        ids = list(record_ids)
        conds: list[sa.ColumnElement[bool]] = []
        if ids:
            conds.append(records.c.id.in_(ids))
        if session_id:
            conds.append(records.c.session_id == session_id)
        if not conds:
            return 0
        target = f"session:{session_id}" if session_id else f"records:{','.join(sorted(ids))[:150]}"
        async with self.engine.begin() as conn:
            return await self._hold(conn, sa.or_(*conds), held=held, actor=actor, target=target)

    async def hold_session(self, conn: AsyncConnection, session_id: str, *, actor: str) -> int:
        """Hold every live record of a session not held yet (a dispute about it)."""
        return await self._hold(conn, records.c.session_id == session_id, held=True, actor=actor,
                                target=f"session:{session_id}", changes_only=True)

    async def release_session_hold(self, conn: AsyncConnection, session_id: str, *, actor: str) -> int:
        return await self._hold(conn, records.c.session_id == session_id, held=False, actor=actor,
                                target=f"session:{session_id}", changes_only=True)

    async def _hold(self, conn: AsyncConnection, scope: sa.ColumnElement[bool], *, held: bool, actor: str | None,
                    target: str, changes_only: bool = False, touch: bool = True) -> int:
        where = [scope, records.c.state == "active"]
        if changes_only:
            where.append(records.c.legal_hold.is_(not held))
        values: dict[str, object] = {"legal_hold": held}
        if touch:
            values["updated_at"] = self.clock()
        res = await conn.execute(sa.update(records).where(*where).values(**values))
        n = int(res.rowcount or 0)
        if n and actor is not None:
            await self.outbox.add(conn, AuditEntry(actor=actor, action="record.legal_hold." + ("placed" if held
                                                                                              else "lifted"),
                                                   target=target, outcome="success"))
        return n

    # -- erasure --------------------------------------------------------------------------------------

    async def erase(self, record_id: str, *, reason: str, actor: str, require_due: bool = False) -> Erased:
        """Crypto-shred one record. Returns "expired", "gone" (already expired), "held" or "not_due"."""
        now = self.clock()
        async with self.engine.begin() as conn:
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
                               .where(record_objects.c.record_id == record_id,
                                      record_objects.c.wrapped_dek.is_not(None))
                               .values(wrapped_dek=None, destroyed_at=now))
        objects = await self._objects(record_id)
        # Step 2: the ciphertext.
        for obj in objects:
            if obj.object_key:
                with contextlib.suppress(ObjectNotFound):
                    await asyncio.to_thread(self.vault.delete_object, obj.object_key)
        # Step 3: tombstone, receipt, events.
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(records).where(records.c.id == record_id))).first()
            if row is None or row.state == "expired":
                return "gone"
            reason = row.expiry_reason or reason
            receipt = {
                "type": "tandem.erasure-receipt", "version": 1, "record_id": record_id, "kind": row.kind,
                "reason": reason, "erased_at": now.isoformat(), "signer": self.signer.kid,
                "objects": [{"version": o.version, "content_sha256": o.content_hash, "kek_version": o.kek_version,
                             "key_destroyed": True, "object_deleted": True} for o in objects],
            }
            hex_digest = digest(receipt)
            signature = self.signer.sign(hex_digest)
            await conn.execute(sa.update(record_objects).where(record_objects.c.record_id == record_id)
                               .values(object_key=None))
            await conn.execute(sa.update(records).where(records.c.id == record_id).values(
                state="expired", expired_at=now, updated_at=now, expiry_reason=reason,
                pairing_id=None, session_id=None, author_id=None, visibility=None, consent_evidence=None,
                captured_at=None, lease_owner=None, lease_until=None,
                receipt=json.dumps(receipt, sort_keys=True), receipt_digest=hex_digest, receipt_signature=signature))
            await self.outbox.add(conn, RecordExpired(record_id=record_id, kind=row.kind, reason=reason,
                                                      digest=hex_digest, signature=signature), subject=record_id)
            await self.outbox.add(conn, AuditEntry(actor=actor, action=f"record.{reason}", target=f"record:{record_id}",
                                                   outcome="success"), subject=f"record:{record_id}")
        log.info("records.shredded", record_id=record_id, reason=reason, digest=hex_digest)
        return "expired"

    def receipt_jwks(self) -> dict[str, Any]:
        return self.signer.public_jwks()

    async def _objects(self, record_id: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(
                sa.select(record_objects.c.version, record_objects.c.object_key, record_objects.c.content_hash,
                          record_objects.c.kek_version)
                .where(record_objects.c.record_id == record_id).order_by(record_objects.c.version))).all())

    async def claim_due(self, owner: str, limit: int, lease: timedelta) -> list[str]:
        """Lease up to `limit` records due for erasure to `owner` (multi-instance safe: SKIP LOCKED + lease)."""
        now = self.clock()
        due = sa.or_(
            sa.and_(records.c.state == "active", records.c.legal_hold.is_(False), records.c.retain_until <= now),
            records.c.state == "shredding",
        )
        lease_free = sa.or_(records.c.lease_until.is_(None), records.c.lease_until < now)
        claimed: list[str] = []
        async with self.engine.begin() as conn:
            ids = [r[0] for r in await conn.execute(
                sa.select(records.c.id).where(due, lease_free).order_by(records.c.retain_until).limit(limit)
                .with_for_update(skip_locked=True))]
            for rid in ids:
                res = await conn.execute(sa.update(records).where(records.c.id == rid, lease_free)
                                         .values(lease_owner=owner[:64], lease_until=now + lease))
                if res.rowcount:
                    claimed.append(rid)
        return claimed

    async def release_claim(self, record_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(records).where(records.c.id == record_id)
                               .values(lease_owner=None, lease_until=None))
