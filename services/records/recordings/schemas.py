"""Wire types of the recordings API and of the recorder's ingest contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class RecordingMetadata(msgspec.Struct, forbid_unknown_fields=True):
    """Sent by the sessions recorder in the `tandem-recording` header as base64url(JSON)."""

    session_id: Id
    pairing_id: Id
    consent_evidence: list[dict[str, Any]] | dict[str, Any]
    started_at: datetime | None = None  # capture start (retention counts from here); default: upload time
    recording_id: Id | None = None  # the recorder's own id, kept in the evidence for cross-reference


class RecordingSummary(msgspec.Struct):
    id: str
    pairing_id: str
    session_id: str | None
    media_type: str
    size: int
    duration_s: float | None  # the recording's length, when its WebM could be indexed
    captured_at: datetime | None
    created_at: datetime
    retain_until: datetime | None
    legal_hold: bool


class Recording(RecordingSummary):
    consent_evidence: Any
