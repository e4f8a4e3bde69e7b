"""Recordings: sealed as they stream in from the sessions recorder, stored by multipart upload,
listed and played back (Range) by the two members of the pairing."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.records.adapters.upload import UploadAborted
from services.records.adapters.vault import Frames, ObjectRef, Vault
from services.records.config import Settings
from services.records.disputes.common import under_dispute
from services.records.lifecycle.access import member_pairing, object_ref, visible_record
from services.records.lifecycle.service import RECORDING_MEDIA_TYPE, Lifecycle
from services.records.lifecycle.tables import record_objects, records
from services.records.pairings.service import session_pairing
from services.records.playback.response import ranged_response
from services.records.recordings.evidence import as_members_see, completed
from services.records.recordings.finishing import Indexing
from services.records.recordings.orphans import OpenUploads
from services.records.recordings.schemas import Recording, RecordingMetadata, RecordingSummary
from services.records.recordings.webm import WebmIndex
from services.records.retention.policy import Policy
from shared.clock import Clock, aware, utcnow
from shared.events.types import AuditEntry, RecordCreated, RecordingStopped
from shared.http import BadRequest, Conflict, PayloadTooLarge, ServiceUnavailable, Unprocessable, retry_after
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger("tandem.records.recordings")
KIND = "recording"
METADATA_HEADER = "tandem-recording"
RETRY_AFTER_S = 10  # seconds; a retried upload starts over (the recorder does not retry: members record again)


def parse_metadata(raw: str | None, limit: int) -> RecordingMetadata:
    if not raw:
        raise BadRequest(f"The {METADATA_HEADER} header (base64url JSON) is required.", slug="metadata-missing")
    if len(raw) > limit:
        raise BadRequest(f"The {METADATA_HEADER} header is too large.", slug="metadata-too-large")
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        return msgspec.json.decode(decoded, type=RecordingMetadata)
    except (binascii.Error, ValueError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        # The message names the field at fault, never the values.
        detail = str(exc) if isinstance(exc, msgspec.ValidationError) else "not base64url JSON"
        raise BadRequest(f"Invalid {METADATA_HEADER} header: {detail}.", slug="metadata-invalid") from None


def _evidence(meta: RecordingMetadata) -> dict[str, object]:
    return {"recording_id": meta.recording_id, "session_id": meta.session_id,
            "started_at": meta.started_at.isoformat() if meta.started_at else None,
            "consent": msgspec.to_builtins(meta.consent_evidence)}


def _summary(row: sa.Row[tuple[object, ...]], size: int) -> RecordingSummary:
    length = None if row.duration_ms is None else row.duration_ms / 1000
    return RecordingSummary(id=row.id, pairing_id=row.pairing_id, session_id=row.session_id, media_type=row.media_type,
                            size=size, duration_s=length, captured_at=aware(row.captured_at),
                            created_at=aware(row.created_at), retain_until=aware(row.retain_until),
                            legal_hold=row.legal_hold)


def _recording(row: sa.Row[tuple[object, ...]], size: int) -> Recording:
    s = _summary(row, size)
    # Only the pair (and the recorder, at ingest) read a recording's metadata; admins go through disputes.
    return Recording(**msgspec.structs.asdict(s),
                     consent_evidence=as_members_see(json.loads(row.consent_evidence or "null")))


@dataclass(frozen=True, kw_only=True)
class Recordings:
    engine: AsyncEngine
    vault: Vault
    lifecycle: Lifecycle
    policy: Policy
    outbox: Outbox
    settings: Settings
    upload: Callable[[str], Frames]  # the object store's writer for a new object key (constant memory)
    leftovers: OpenUploads | None = None  # where an object that could not be deleted is left for the sweeper
    clock: Clock = utcnow

    def metadata(self, raw: str | None) -> RecordingMetadata:
        """The recorder's `tandem-recording` header, checked."""
        return parse_metadata(raw, self.settings.max_consent_header_bytes)

    async def ingest(self, actor: str, meta: RecordingMetadata, body: AsyncIterator[bytes],
                     content_length: int | None) -> tuple[Recording, Indexing | None]:
        """Seal the body as it arrives and stream it into S3, learning its WebM index on the way; create the
        record only when all is stored. Also returns the job that gives the stored recording its length and
        seek index (`finishing.py`; run it after answering), or None when the body could not be indexed."""
        limit = self.settings.max_recording_bytes
        if content_length is not None and content_length > limit:
            raise PayloadTooLarge(f"A recording holds at most {limit} bytes.", slug="recording-too-large")
        async with self.engine.connect() as conn:
            known = await session_pairing(conn, meta.session_id)
        if known is not None and known != meta.pairing_id:
            raise Unprocessable("This session belongs to another pairing.", slug="session-pairing-mismatch")

        record_id = secrets.token_hex(16)
        sink = self.vault.sealing_sink(record_id, 1, KIND, self.upload)
        index = WebmIndex()
        received = 0
        chunks_in = 0
        stored = False
        try:
            async for chunk in body:
                received += len(chunk)
                chunks_in += 1
                if received > limit:
                    raise PayloadTooLarge(f"A recording holds at most {limit} bytes.", slug="recording-too-large")
                index.feed(chunk)
                await sink.write(chunk)
            if received == 0:
                raise BadRequest("The recording is empty.", slug="recording-empty")
            sealed = await sink.finish()
            stored = True
            now = self.clock()
            captured = meta.started_at or now
            async with self.engine.begin() as conn:
                # A session under dispute holds its new recordings from their first moment.
                row = await self.lifecycle.create_recording_record(
                    conn, record_id=record_id, pairing_id=meta.pairing_id, session_id=meta.session_id,
                    captured_at=captured, retain_until=self.policy.recording_retain_until(captured),
                    consent_evidence=_evidence(meta), sealed=sealed, at=now,
                    held_while=under_dispute(meta.session_id))
                await self.outbox.add(conn, RecordCreated(record_id=record_id, pairing_id=meta.pairing_id, kind=KIND,
                                                          session_id=meta.session_id), subject=record_id)
                await self.outbox.add(conn, AuditEntry(actor=actor, action="recording.ingest",
                                                       target=f"record:{record_id}", outcome="success"))
        except BaseException as exc:
            # Whatever got stored is useless without a record: remove it, within RECORDS_UPLOAD_GIVE_UP_S
            # (a store that stays down leaves it to the sweeper; sealed bytes without a record are unreadable).
            cleaned = await sink.abort()
            log.warning("records.ingest_failed", session_id=meta.session_id, received=received, stored=stored,
                        cleaned=cleaned, exc_type=type(exc).__name__)
            if isinstance(exc, UploadAborted):
                # Answered now, whatever is left of the body: the recorder stops streaming when it sees it.
                raise ServiceUnavailable("The object store is unavailable; nothing was stored. Retry the upload "
                                         "later.", slug="store-unavailable",
                                         headers=retry_after(RETRY_AFTER_S)) from None
            raise
        log.info("records.recording_stored", record_id=record_id, session_id=meta.session_id,
                 size=sealed.plaintext_size, request_chunks=chunks_in)
        index.finish()
        if not index.complete:
            log.info("records.recording_unindexed", record_id=record_id, reason=index.failed)
            return _recording(row, sealed.plaintext_size), None
        job = Indexing(engine=self.engine, vault=self.vault, upload=self.upload, leftovers=self.leftovers,
                       record_id=record_id, kind=KIND, stored=sealed, index=index,
                       window=self.settings.playback_window_bytes)
        return _recording(row, sealed.plaintext_size), job

    async def complete_evidence(self, conn: AsyncConnection, event: RecordingStopped, occurred_at: datetime) -> bool:
        """Add the end of `event`'s consent round to its record; False when there is no such recording."""
        if not event.record_id:
            return False
        # None: expired (tombstone) or not a recording of that session: nothing to complete.
        evidence = await self.lifecycle.consent_evidence(conn, event.record_id, event.session_id)
        done = completed(evidence, event, occurred_at)
        if done is None:
            return False
        await self.lifecycle.replace_consent_evidence(conn, event.record_id, done)
        return True

    async def of_pairing(self, user_id: str, pairing_id: str) -> list[RecordingSummary]:
        async with self.engine.connect() as conn:
            await member_pairing(conn, pairing_id, user_id)
            rows = await conn.execute(
                sa.select(records, record_objects.c.plaintext_size)
                .join(record_objects, sa.and_(record_objects.c.record_id == records.c.id,
                                              record_objects.c.version == 1))
                .where(records.c.pairing_id == pairing_id, records.c.kind == KIND, records.c.state == "active")
                .order_by(records.c.created_at))
            return [_summary(r, r.plaintext_size) for r in rows]

    async def get(self, user_id: str, record_id: str) -> Recording:
        async with self.engine.connect() as conn:
            row, _ = await visible_record(conn, record_id, KIND, user_id)
            ref = await object_ref(conn, record_id, 1, KIND)
        return _recording(row, ref.plaintext_size)

    async def _playable(self, user_id: str, record_id: str) -> ObjectRef:
        async with self.engine.connect() as conn:
            await visible_record(conn, record_id, KIND, user_id)
            return await object_ref(conn, record_id, 1, KIND)

    async def content(self, user_id: str, record_id: str, range_header: str | None) -> Response[Any]:
        """The plaintext (or one range of it): only the segments covering the range are fetched and decrypted."""
        ref = await self._playable(user_id, record_id)
        window = self.settings.playback_window_bytes
        return await ranged_response(range_header, ref.plaintext_size, RECORDING_MEDIA_TYPE,
                                     lambda start, end: self.vault.stream_range(ref, start, end, window),
                                     noun="recording")

    async def erase(self, user_id: str, record_id: str) -> None:
        """A member's right to erasure: crypto-shredded at once (409 under legal hold)."""
        await self._playable(user_id, record_id)
        if await self.lifecycle.erase(record_id, reason="erasure", actor=user_id) == "held":
            raise Conflict("This recording is under legal hold and cannot be erased now.", slug="legal-hold")
