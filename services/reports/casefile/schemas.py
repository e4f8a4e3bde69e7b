"""The vocabulary of a report (its categories and states) and the parts of it that both the reporter's
and the handlers' views show."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

Category = Literal["boundary", "harassment_discrimination", "safety", "confidentiality_breach", "other"]
State = Literal["received", "acknowledged", "investigating", "resolved", "closed"]


class AttachmentInfo(msgspec.Struct, frozen=True):
    id: str
    filename: str
    media_type: str
    size: int


class MessageOut(msgspec.Struct, frozen=True):
    id: str
    sender: Literal["reporter", "safeguarding"]
    text: str
    created_at: datetime
    author_id: str | None = None  # the handling officer; only ever shown to safeguarding


class NoteOut(msgspec.Struct, frozen=True):
    id: str
    author_id: str | None
    text: str
    created_at: datetime
