"""Request and response bodies of the safeguarding routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from services.reports.casefile.schemas import AttachmentInfo, Category, MessageOut, NoteOut
from services.reports.casefile.schemas import State as State  # the workflow's states, also the list's filter

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]
Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=2000)]


class CaseSummary(msgspec.Struct, frozen=True):
    id: str
    category: Category
    state: str
    urgent: bool
    anonymous: bool
    assignee_id: str | None
    created_at: datetime
    ack_due_at: datetime
    acknowledged_at: datetime | None
    overdue: bool
    closed_at: datetime | None
    legal_hold: bool


class Reporter(msgspec.Struct, frozen=True):
    anonymous: bool
    revealed: bool
    reporter_id: str | None  # only once a second officer approved revealing it


class RevealRequestOut(msgspec.Struct, frozen=True):
    id: str
    requested_by: str
    state: str
    created_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None


class CaseDetail(msgspec.Struct, frozen=True):
    case: CaseSummary
    text: str
    session_id: str | None
    person_id: str | None
    reporter: Reporter
    attachments: list[AttachmentInfo]
    notes: list[NoteOut]
    messages: list[MessageOut]
    reveal_requests: list[RevealRequestOut]


class TransitionIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    to: State


class AssignIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    assignee_id: Id | None


class TextIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    text: str


class ReasonIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason


class HoldIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hold: bool
    reason: Reason


class EntryCreated(msgspec.Struct, frozen=True):
    id: str
    created_at: datetime
