"""Notes: versioned, each version sealed under its own data key; written by a pair member about their
pairing, readable by the author (`private`) or both members (`pair`), by nobody else."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.records.adapters.vault import SealedObject, Vault
from services.records.config import Settings
from services.records.lifecycle.access import member_pairing, not_found, object_ref, visible_record
from services.records.lifecycle.service import Lifecycle, Row
from services.records.lifecycle.tables import record_objects, records
from services.records.notes.identifiers import find_identifiers
from services.records.notes.schemas import IdentifierFinding, Note, NoteCreate, NoteSummary, NoteUpdate, NoteVersion
from shared.clock import Clock, aware, utcnow
from shared.events.types import AuditEntry, RecordCreated
from shared.http import Conflict, Forbidden, PayloadTooLarge, Unprocessable
from shared.identity import ActsForCaller
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger("tandem.records.notes")
KIND = "note"


def _summary(row: sa.Row[tuple[object, ...]]) -> NoteSummary:
    return NoteSummary(id=row.id, pairing_id=row.pairing_id, author_id=row.author_id, visibility=row.visibility,
                       version=row.current_version, created_at=aware(row.created_at), updated_at=aware(row.updated_at),
                       retain_until=aware(row.retain_until), legal_hold=row.legal_hold)


def _note(row: sa.Row[tuple[object, ...]], text: str, version: int | None = None) -> Note:
    fields = msgspec.structs.asdict(_summary(row))
    return Note(**{**fields, "version": version or row.current_version}, text=text)


@dataclass(frozen=True, kw_only=True)
class Notes(ActsForCaller):
    """The notes routes' work for one caller (a pair member)."""

    engine: AsyncEngine
    vault: Vault
    lifecycle: Lifecycle
    outbox: Outbox
    settings: Settings
    clock: Clock = utcnow

    def _check_text(self, text: str, confirmed: bool) -> bytes:
        data = text.encode("utf-8")
        limit = self.settings.max_note_bytes
        if len(data) > limit:
            raise PayloadTooLarge(f"A note holds at most {limit} bytes.", slug="note-too-large")
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

    async def _store(self, sealed: SealedObject, write: Callable[[AsyncConnection], Awaitable[Row]]) -> Row:
        """Run `write` (the record's rows and events) in one transaction; if it does not commit, the sealed
        object it was to describe is removed again."""
        try:
            async with self.engine.begin() as conn:
                return await write(conn)
        except BaseException:
            await self.vault.discard(sealed)
            raise

    async def _announce(self, conn: AsyncConnection, note_id: str, pairing_id: str) -> None:
        """record.created tells both members (their inboxes), so a note raises it only when the pair may read
        it: at creation when shared, or when its author shares a private one. A private note's existence is
        the author's alone."""
        await self.outbox.add(conn, RecordCreated(record_id=note_id, pairing_id=pairing_id, kind=KIND), subject=note_id)

    async def create(self, body: NoteCreate) -> Note:
        user_id = self.me.sub
        async with self.engine.connect() as conn:
            pairing = await member_pairing(conn, body.pairing_id, user_id)
        if pairing.state != "active":
            raise Conflict("This pairing has ended: no new notes.", slug="pairing-ended")
        data = self._check_text(body.text, body.confirm_identifiers)
        record_id = secrets.token_hex(16)
        sealed = await self.vault.seal_bytes(record_id, 1, KIND, data)
        now = self.clock()

        async def write(conn: AsyncConnection) -> Row:
            row = await self.lifecycle.create_note_record(
                conn, record_id=record_id, pairing_id=pairing.pairing_id, author_id=user_id,
                visibility=body.visibility, sealed=sealed, at=now)
            if body.visibility == "pair":
                await self._announce(conn, record_id, pairing.pairing_id)
            await self.outbox.add(conn, AuditEntry(actor=user_id, action="note.create",
                                                   target=f"record:{record_id}", outcome="success"))
            return row

        row = await self._store(sealed, write)
        log.info("records.note_created", record_id=record_id, pairing_id=pairing.pairing_id, size=len(data))
        return _note(row, body.text)

    async def of_pairing(self, pairing_id: str) -> list[NoteSummary]:
        user_id = self.me.sub
        async with self.engine.connect() as conn:
            await member_pairing(conn, pairing_id, user_id)
            rows = await conn.execute(
                sa.select(records).where(records.c.pairing_id == pairing_id, records.c.kind == KIND,
                                         records.c.state == "active",
                                         sa.or_(records.c.visibility == "pair", records.c.author_id == user_id))
                .order_by(records.c.created_at))
            return [_summary(r) for r in rows]

    async def read(self, note_id: str, version: int | None = None) -> Note:
        user_id = self.me.sub
        async with self.engine.connect() as conn:
            row, _ = await visible_record(conn, note_id, KIND, user_id)
            wanted = version or row.current_version
            if not 1 <= wanted <= row.current_version:
                raise not_found()
            ref = await object_ref(conn, note_id, wanted, KIND)
        plaintext = await self.vault.open_bytes(ref)
        return _note(row, plaintext.decode("utf-8"), wanted)

    async def versions(self, note_id: str) -> list[NoteVersion]:
        user_id = self.me.sub
        async with self.engine.connect() as conn:
            await visible_record(conn, note_id, KIND, user_id)
            rows = await conn.execute(sa.select(record_objects.c.version, record_objects.c.created_at,
                                                record_objects.c.plaintext_size)
                                      .where(record_objects.c.record_id == note_id)
                                      .order_by(record_objects.c.version))
            return [NoteVersion(version=r.version, created_at=aware(r.created_at), size=r.plaintext_size)
                    for r in rows]

    async def update(self, note_id: str, body: NoteUpdate) -> Note:
        user_id = self.me.sub
        async with self.engine.connect() as conn:
            row, pairing = await visible_record(conn, note_id, KIND, user_id)
        if row.author_id != user_id:
            raise Forbidden("Only the author can change a note.", slug="not-author")
        if pairing.state != "active":
            raise Conflict("This pairing has ended: notes are read-only.", slug="pairing-ended")
        if body.expected_version is not None and body.expected_version != row.current_version:
            raise Conflict("The note changed meanwhile; reload it.", slug="version-conflict")
        data = self._check_text(body.text, body.confirm_identifiers)
        version = row.current_version + 1
        sealed = await self.vault.seal_bytes(note_id, version, KIND, data)
        now = self.clock()

        async def write(conn: AsyncConnection) -> Row:
            new = await self.lifecycle.add_note_version(
                conn, record_id=note_id, after_version=row.current_version,
                visibility=body.visibility or row.visibility, sealed=sealed, at=now)
            if new is None:
                raise Conflict("The note changed meanwhile; reload it.", slug="version-conflict")
            if row.visibility == "private" and body.visibility == "pair":
                await self._announce(conn, note_id, row.pairing_id)
            await self.outbox.add(conn, AuditEntry(actor=user_id, action="note.update",
                                                   target=f"record:{note_id}", outcome="success"))
            return new

        new = await self._store(sealed, write)
        log.info("records.note_updated", record_id=note_id, version=version, size=len(data))
        return _note(new, body.text)

    async def delete(self, note_id: str) -> None:
        """The author's right to erasure: crypto-shredded at once (409 under legal hold)."""
        user_id = self.me.sub
        async with self.engine.connect() as conn:
            row, _ = await visible_record(conn, note_id, KIND, user_id)
        if row.author_id != user_id:
            raise Forbidden("Only the author can delete a note.", slug="not-author")
        if await self.lifecycle.erase(note_id, reason="erasure", actor=user_id) == "held":
            raise Conflict("This note is under legal hold and cannot be deleted now.", slug="legal-hold")
