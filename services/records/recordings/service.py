"""Recordings: sealed as they stream in from the sessions recorder, stored by multipart upload,
listed and played back (Range) by the two members of the pairing."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import AsyncIterator

import msgspec
import sqlalchemy as sa

from services.records.adapters.upload import SealedUpload, UploadAborted
from services.records.core.access import not_found, object_ref, visible_record
from services.records.core.context import Records, aware
from services.records.core.tables import record_objects, records
from services.records.core.vault import ObjectRef, crypto_id, new_object_key
from services.records.disputes.service import hold_if_disputed
from services.records.pairings.service import get_pairing, session_pairing
from services.records.recordings.evidence import as_members_see
from services.records.recordings.schemas import Recording, RecordingMetadata, RecordingSummary
from services.records.retention.service import recording_retain_until
from shared.crypto import StreamContext, StreamSealer
from shared.events.types import AuditEntry, RecordCreated
from shared.http import BadRequest, PayloadTooLarge, ServiceUnavailable, Unprocessable, retry_after
from shared.logging import get_logger

log = get_logger("tandem.records.recordings")
KIND = "recording"
MEDIA_TYPE = "video/webm"
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


async def ingest(rec: Records, actor: str, meta: RecordingMetadata, body: AsyncIterator[bytes],
                 content_length: int | None) -> Recording:
    """Seal the body as it arrives and stream it into S3; create the record only when all is stored."""
    limit = rec.settings.max_recording_bytes
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(f"A recording holds at most {limit} bytes.", slug="recording-too-large")
    async with rec.engine.connect() as conn:
        known = await session_pairing(conn, meta.session_id)
    if known is not None and known != meta.pairing_id:
        raise Unprocessable("This session belongs to another pairing.", slug="session-pairing-mismatch")

    record_id = secrets.token_hex(16)
    cid = crypto_id(record_id, 1)
    dek, wrapped = rec.vault.wrap_new_key(cid)
    segment = rec.settings.segment_size
    sealer = StreamSealer(dek, StreamContext(record_id=cid, kind=KIND), segment_size=segment)
    del dek
    key = new_object_key()
    upload = SealedUpload(rec.store, key, part_size=rec.settings.upload_part_size,
                          parallel=rec.settings.upload_parallel_parts, give_up_s=rec.settings.upload_give_up_s)
    received = 0
    chunks_in = 0
    stored = False
    content_hash = ""

    try:
        await upload.write(sealer.header)
        async for chunk in body:
            received += len(chunk)
            chunks_in += 1
            if received > limit:
                raise PayloadTooLarge(f"A recording holds at most {limit} bytes.", slug="recording-too-large")
            # Sealed straight into the part buffer; what does not fit there is written (and copied).
            for sealed in sealer.update_into(chunk, upload.reserve):
                await upload.write(sealed)
        if received == 0:
            raise BadRequest("The recording is empty.", slug="recording-empty")
        await upload.write(sealer.finalize())
        content_hash = await upload.finish()
        stored = True
        now = rec.clock()
        captured = meta.started_at or now
        async with rec.engine.begin() as conn:
            await conn.execute(sa.insert(records).values(
                id=record_id, kind=KIND, state="active", pairing_id=meta.pairing_id, session_id=meta.session_id,
                current_version=1, media_type=MEDIA_TYPE, created_at=now, updated_at=now, captured_at=captured,
                retain_until=recording_retain_until(captured, rec.settings.recording_retention_days),
                legal_hold=False, consent_evidence=json.dumps(_evidence(meta), sort_keys=True)))
            await conn.execute(sa.insert(record_objects).values(
                id=secrets.token_hex(16), record_id=record_id, version=1, object_key=key, crypto_id=cid,
                plaintext_size=sealer.plaintext_size, ciphertext_size=sealer.ciphertext_size,
                segment_size=rec.settings.segment_size, content_hash=content_hash,
                kek_version=wrapped.kek_version, wrapped_dek=wrapped.blob, created_at=now))
            await hold_if_disputed(conn, meta.session_id)  # a session under dispute holds its new recordings
            if rec.outbox is not None:
                await rec.outbox.add(conn, RecordCreated(record_id=record_id, pairing_id=meta.pairing_id, kind=KIND,
                                                         session_id=meta.session_id), subject=record_id)
                await rec.outbox.add(conn, AuditEntry(actor=actor, action="recording.ingest",
                                                      target=f"record:{record_id}", outcome="success"))
            row = (await conn.execute(sa.select(records).where(records.c.id == record_id))).one()
    except BaseException as exc:
        # Whatever got stored is useless without a record: remove it, within RECORDS_UPLOAD_GIVE_UP_S
        # (a store that stays down leaves it to the sweeper; sealed bytes without a record are unreadable).
        cleaned = await upload.abort()
        log.warning("records.ingest_failed", session_id=meta.session_id, received=received, stored=stored,
                    cleaned=cleaned, exc_type=type(exc).__name__)
        if isinstance(exc, UploadAborted):
            # Answered now, whatever is left of the body: the recorder stops streaming when it sees it.
            raise ServiceUnavailable("The object store is unavailable; nothing was stored. Retry the upload later.",
                                     slug="store-unavailable", headers=retry_after(RETRY_AFTER_S)) from None
        raise
    log.info("records.recording_stored", record_id=record_id, session_id=meta.session_id,
             size=sealer.plaintext_size, request_chunks=chunks_in)
    return _recording(row, sealer.plaintext_size)


def _evidence(meta: RecordingMetadata) -> dict[str, object]:
    return {"recording_id": meta.recording_id, "session_id": meta.session_id,
            "started_at": meta.started_at.isoformat() if meta.started_at else None,
            "consent": msgspec.to_builtins(meta.consent_evidence)}


def _summary(row: sa.Row[tuple[object, ...]], size: int) -> RecordingSummary:
    return RecordingSummary(id=row.id, pairing_id=row.pairing_id, session_id=row.session_id, media_type=row.media_type,
                            size=size, captured_at=aware(row.captured_at), created_at=aware(row.created_at),
                            retain_until=aware(row.retain_until), legal_hold=row.legal_hold)


def _recording(row: sa.Row[tuple[object, ...]], size: int) -> Recording:
    s = _summary(row, size)
    # Only the pair (and the recorder, at ingest) read a recording's metadata; admins go through disputes.
    return Recording(**msgspec.structs.asdict(s),
                     consent_evidence=as_members_see(json.loads(row.consent_evidence or "null")))


async def list_recordings(rec: Records, user_id: str, pairing_id: str) -> list[RecordingSummary]:
    async with rec.engine.connect() as conn:
        pairing = await get_pairing(conn, pairing_id)
        if pairing is None or not pairing.has_member(user_id):
            raise not_found()
        rows = await conn.execute(
            sa.select(records, record_objects.c.plaintext_size)
            .join(record_objects, sa.and_(record_objects.c.record_id == records.c.id, record_objects.c.version == 1))
            .where(records.c.pairing_id == pairing_id, records.c.kind == KIND, records.c.state == "active")
            .order_by(records.c.created_at))
        return [_summary(r, r.plaintext_size) for r in rows]


async def get_recording(rec: Records, user_id: str, record_id: str) -> Recording:
    async with rec.engine.connect() as conn:
        row, _ = await visible_record(conn, record_id, KIND, user_id)
        ref = await object_ref(conn, record_id, 1, KIND)
    return _recording(row, ref.plaintext_size)


async def playable(rec: Records, user_id: str, record_id: str) -> ObjectRef:
    async with rec.engine.connect() as conn:
        await visible_record(conn, record_id, KIND, user_id)
        return await object_ref(conn, record_id, 1, KIND)


