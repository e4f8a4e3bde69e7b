"""What the vault seals for the reports service: the kinds bound into the AAD of each sealed object (a
ciphertext only opens as what it was sealed as) and the shapes sealed under them."""

from __future__ import annotations

import msgspec

KIND_BODY = "report.body"
KIND_NOTE = "report.note"
KIND_MESSAGE = "report.message"
KIND_ATTACHMENT = "report.attachment"
KIND_ATTACHMENT_META = "report.attachment_meta"
KIND_REVEAL = "report.reveal_reason"


class Body(msgspec.Struct, frozen=True):
    """The sealed part of a report: the text and who or what it is about."""

    text: str
    session_id: str | None = None
    person_id: str | None = None
    reporter_id: str | None = None  # identified reports: revealed to handlers only after a four-eyes approval


class AttachmentMeta(msgspec.Struct, frozen=True):
    filename: str
    media_type: str


class EntryBody(msgspec.Struct, frozen=True):
    text: str


class RevealReasons(msgspec.Struct, frozen=True):
    requested: str
    approved: str | None = None
