"""Wire types of the notes API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Visibility = Literal["private", "pair"]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
# The byte limit (RECORDS_MAX_NOTE_BYTES) is checked in the service; this only bounds decoding.
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1_048_576)]


class NoteCreate(msgspec.Struct, forbid_unknown_fields=True):
    pairing_id: Id
    text: Text
    visibility: Visibility = "private"
    confirm_identifiers: bool = False  # resubmit with true after the identifier warning


class NoteUpdate(msgspec.Struct, forbid_unknown_fields=True):
    text: Text
    visibility: Visibility | None = None
    confirm_identifiers: bool = False
    expected_version: int | None = None  # optimistic concurrency: 409 when the note moved on


class NoteSummary(msgspec.Struct):
    id: str
    pairing_id: str
    author_id: str
    visibility: Visibility
    version: int
    created_at: datetime
    updated_at: datetime
    retain_until: datetime | None
    legal_hold: bool


class Note(NoteSummary):
    text: str


class NoteVersion(msgspec.Struct):
    version: int
    created_at: datetime
    size: int


class IdentifierFinding(msgspec.Struct):
    kind: str
    start: int
    end: int
