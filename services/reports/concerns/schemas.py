"""Request and response bodies of the reporter-facing routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from services.reports.casefile.schemas import AttachmentInfo, Category, MessageOut

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]


class AttachmentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    media_type: Annotated[str, msgspec.Meta(min_length=3, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")]
    content: bytes  # base64 in JSON; size capped by REPORTS_MAX_ATTACHMENT_BYTES


class ConcernIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    category: Category
    text: str
    anonymous: bool = False
    urgent: bool = False
    session_id: Id | None = None
    person_id: Id | None = None
    attachments: list[AttachmentIn] = []


class Filed(msgspec.Struct, frozen=True):
    state: str
    anonymous: bool
    ack_due_at: datetime
    id: str | None = None  # identified reports only: anonymous reporters follow up by receipt
    receipt: str | None = None  # anonymous only; shown once, never stored or shown again


class MessageIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    text: str


class OwnReportSummary(msgspec.Struct, frozen=True):
    id: str
    category: Category
    state: str
    urgent: bool
    created_at: datetime


class OwnReport(msgspec.Struct, frozen=True):
    category: Category
    state: str
    urgent: bool
    created_at: datetime
    acknowledged_at: datetime | None
    text: str
    session_id: str | None
    person_id: str | None
    attachments: list[AttachmentInfo]
    messages: list[MessageOut]
    id: str | None = None


class MessagePosted(msgspec.Struct, frozen=True):
    id: str
    created_at: datetime
