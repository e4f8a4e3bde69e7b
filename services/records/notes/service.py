"""Notes: versioned, each version sealed under its own data key; written by a pair member about their
pairing, readable by the author (`private`) or both members (`pair`), by nobody else."""

from __future__ import annotations

import asyncio
import secrets

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.records.core.access import not_found, object_ref, visible_record
from services.records.core.context import Records, aware
from services.records.core.tables import record_objects, records
from services.records.core.vault import SealedObject
from services.records.notes.identifiers import find_identifiers
from services.records.notes.schemas import IdentifierFinding, Note, NoteCreate, NoteSummary, NoteUpdate, NoteVersion
from services.records.pairings.service import get_pairing
from services.records.retention.service import erase_record
from shared.events.types import AuditEntry, RecordCreated
from shared.http import Conflict, Forbidden, PayloadTooLarge, Unprocessable
from shared.logging import get_logger

log = get_logger("tandem.records.notes")
KIND = "note"
MEDIA_TYPE = "text/plain; charset=utf-8"


def _check_text(rec: Records, text: str, confirmed: bool) -> bytes:
    data = text.encode("utf-8")
    if len(data) > rec.settings.max_note_bytes:
        raise PayloadTooLarge(f"A note holds at most {rec.settings.max_note_bytes} bytes.", slug="note-too-large")
    findings = find_identifiers(text)
    if findings and not confirmed:
        kinds = sorted({f.kind for f in findings})
        # Kinds and offsets only: the matched text is never echoed or logged.
        raise Unprocessable(
            "The note may contain patient identifiers (" + ", ".join(kinds) + "). Mentoring records must not "
            "identify patients: remove them, or resubmit with confirm_identifiers=true.",
            slug="patient-identifiers",
            extra={"findings": [msgspec.to_builtins(IdentifierFinding(kind=f.kind, start=f.start, end=f.end))
                                for f in findings],
                   "confirm_field": "confirm_identifiers"})
    if findings:
        log.info("records.note_identifiers_confirmed", kinds=sorted({f.kind for f in findings}))
    return data


def _summary(row: sa.Row[tuple[object, ...]]) -> NoteSummary:
    return NoteSummary(id=row.id, pairing_id=row.pairing_id, author_id=row.author_id, visibility=row.visibility,
                       version=row.current_version, created_at=aware(row.created_at), updated_at=aware(row.updated_at),
                       retain_until=aware(row.retain_until), legal_hold=row.legal_hold)


def _note(row: sa.Row[tuple[object, ...]], text: str, version: int | None = None) -> Note:
    s = _summary(row)
    return Note(id=s.id, pairing_id=s.pairing_id, author_id=s.author_id, visibility=s.visibility,
                version=version or s.version, created_at=s.created_at, updated_at=s.updated_at,
                retain_until=s.retain_until, legal_hold=s.legal_hold, text=text)


def _object_values(record_id: str, version: int, sealed: SealedObject, now: object) -> dict[str, object]:
    return {"id": secrets.token_hex(16), "record_id": record_id, "version": version, "object_key": sealed.object_key,
            "crypto_id": sealed.crypto_id, "plaintext_size": sealed.plaintext_size,
            "ciphertext_size": sealed.ciphertext_size, "segment_size": sealed.segment_size,
            "content_hash": sealed.content_hash, "kek_version": sealed.kek_version, "wrapped_dek": sealed.wrapped_dek,
            "created_at": now}


async def _discard(rec: Records, sealed: SealedObject) -> None:
    await asyncio.to_thread(rec.store.delete, sealed.object_key)


async def _announce(rec: Records, conn: AsyncConnection, note_id: str, pairing_id: str) -> None:
    """record.created tells both members (their inboxes), so a note raises it only when the pair may read
    it: at creation when shared, or when its author shares a private one. A private note's existence is
    the author's alone."""
    assert rec.outbox is not None  # noqa: S101 - callers check
    await rec.outbox.add(conn, RecordCreated(record_id=note_id, pairing_id=pairing_id, kind=KIND), subject=note_id)


async def create_note(rec: Records, user_id: str, body: NoteCreate) -> Note:
    async with rec.engine.connect() as conn:
        pairing = await get_pairing(conn, body.pairing_id)
    if pairing is None or not pairing.has_member(user_id):
        raise not_found()
    if pairing.state != "active":
        raise Conflict("This pairing has ended: no new notes.", slug="pairing-ended")
    data = _check_text(rec, body.text, body.confirm_identifiers)
    record_id = secrets.token_hex(16)
    sealed = await rec.vault.seal_bytes(record_id, 1, KIND, data)
    now = rec.clock()
    try:
        async with rec.engine.begin() as conn:
            await conn.execute(sa.insert(records).values(
                id=record_id, kind=KIND, state="active", pairing_id=pairing.pairing_id, author_id=user_id,
                visibility=body.visibility, current_version=1, media_type=MEDIA_TYPE, created_at=now, updated_at=now,
                retain_until=None, legal_hold=False))
            await conn.execute(sa.insert(record_objects).values(**_object_values(record_id, 1, sealed, now)))
            if rec.outbox is not None:
                if body.visibility == "pair":
                    await _announce(rec, conn, record_id, pairing.pairing_id)
                await rec.outbox.add(conn, AuditEntry(actor=user_id, action="note.create",
                                                      target=f"record:{record_id}", outcome="success"))
            row = (await conn.execute(sa.select(records).where(records.c.id == record_id))).one()
    except BaseException:
        await _discard(rec, sealed)
        raise
    log.info("records.note_created", record_id=record_id, pairing_id=pairing.pairing_id, size=len(data))
    return _note(row, body.text)


async def list_notes(rec: Records, user_id: str, pairing_id: str) -> list[NoteSummary]:
    async with rec.engine.connect() as conn:
        pairing = await get_pairing(conn, pairing_id)
        if pairing is None or not pairing.has_member(user_id):
            raise not_found()
        rows = await conn.execute(
            sa.select(records).where(records.c.pairing_id == pairing_id, records.c.kind == KIND,
                                     records.c.state == "active",
                                     sa.or_(records.c.visibility == "pair", records.c.author_id == user_id))
            .order_by(records.c.created_at))
        return [_summary(r) for r in rows]


async def read_note(rec: Records, user_id: str, note_id: str, version: int | None = None) -> Note:
    async with rec.engine.connect() as conn:
        row, _ = await visible_record(conn, note_id, KIND, user_id)
        wanted = version or row.current_version
        if not 1 <= wanted <= row.current_version:
            raise not_found()
        ref = await object_ref(conn, note_id, wanted, KIND)
    plaintext = await rec.vault.open_bytes(ref)
    return _note(row, plaintext.decode("utf-8"), wanted)


async def note_versions(rec: Records, user_id: str, note_id: str) -> list[NoteVersion]:
    async with rec.engine.connect() as conn:
        await visible_record(conn, note_id, KIND, user_id)
        rows = await conn.execute(sa.select(record_objects.c.version, record_objects.c.created_at,
                                            record_objects.c.plaintext_size)
                                  .where(record_objects.c.record_id == note_id).order_by(record_objects.c.version))
        return [NoteVersion(version=r.version, created_at=aware(r.created_at), size=r.plaintext_size)
                for r in rows]


async def update_note(rec: Records, user_id: str, note_id: str, body: NoteUpdate) -> Note:
    async with rec.engine.connect() as conn:
        row, pairing = await visible_record(conn, note_id, KIND, user_id)
    if row.author_id != user_id:
        raise Forbidden("Only the author can change a note.", slug="not-author")
    if pairing.state != "active":
        raise Conflict("This pairing has ended: notes are read-only.", slug="pairing-ended")
    if body.expected_version is not None and body.expected_version != row.current_version:
        raise Conflict("The note changed meanwhile; reload it.", slug="version-conflict")
    data = _check_text(rec, body.text, body.confirm_identifiers)
    version = row.current_version + 1
    sealed = await rec.vault.seal_bytes(note_id, version, KIND, data)
    now = rec.clock()
    try:
        async with rec.engine.begin() as conn:
            moved = await conn.execute(
                sa.update(records).where(records.c.id == note_id, records.c.state == "active",
                                         records.c.current_version == row.current_version)
                .values(current_version=version, updated_at=now, visibility=body.visibility or row.visibility))
            if not moved.rowcount:
                raise Conflict("The note changed meanwhile; reload it.", slug="version-conflict")
            await conn.execute(sa.insert(record_objects).values(**_object_values(note_id, version, sealed, now)))
            if rec.outbox is not None:
                if row.visibility == "private" and body.visibility == "pair":
                    await _announce(rec, conn, note_id, row.pairing_id)
                await rec.outbox.add(conn, AuditEntry(actor=user_id, action="note.update",
                                                      target=f"record:{note_id}", outcome="success"))
            new = (await conn.execute(sa.select(records).where(records.c.id == note_id))).one()
    except BaseException:
        await _discard(rec, sealed)
        raise
    log.info("records.note_updated", record_id=note_id, version=version, size=len(data))
    return _note(new, body.text)


async def delete_note(rec: Records, user_id: str, note_id: str) -> None:
    async with rec.engine.connect() as conn:
        row, _ = await visible_record(conn, note_id, KIND, user_id)
    if row.author_id != user_id:
        raise Forbidden("Only the author can delete a note.", slug="not-author")
    await erase_record(rec, note_id, actor=user_id)
