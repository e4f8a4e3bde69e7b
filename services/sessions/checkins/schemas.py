"""Check-in request and response bodies. `comment` is confidential text: returned to admins and to its author
only, never logged, never in an event or an audit entry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from services.sessions.checkins.tables import DEFAULT_EVERY_WEEKS, DEFAULT_GRACE_DAYS

UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")]
EveryWeeks = Annotated[int, msgspec.Meta(ge=1, le=26)]
GraceDays = Annotated[int, msgspec.Meta(ge=0, le=14)]
Progressing = Literal["yes", "partly", "no"]
MAX_COMMENT = 2000


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    """The programme's check-in setting (admins). Off by default."""

    enabled: bool
    default_every_weeks: EveryWeeks = DEFAULT_EVERY_WEEKS
    grace_days: GraceDays = DEFAULT_GRACE_DAYS


class SettingsOut(msgspec.Struct):
    enabled: bool
    default_every_weeks: int
    grace_days: int  # a check-in is overdue this many days after its due date


class CreatePlan(msgspec.Struct, forbid_unknown_fields=True):
    """Check in with `user_id` (a mentor or mentee) every `every_weeks` weeks from `first_due_at`
    (with a time zone; at most a year ahead)."""

    user_id: UserId
    first_due_at: datetime
    every_weeks: EveryWeeks | None = None  # None: the programme's default


class ChangePlan(msgspec.Struct, forbid_unknown_fields=True):
    """A new cadence; `next_due_at` moves the next check-in too (same bounds as `first_due_at`)."""

    every_weeks: EveryWeeks
    next_due_at: datetime | None = None


class PlanOut(msgspec.Struct):
    user_id: str
    every_weeks: int
    next_due_at: datetime
    last_answered_at: datetime | None
    due: bool  # now >= next_due_at
    overdue: bool  # now > next_due_at + the grace days (never while check-ins are off)
    overdue_days: int  # whole days since next_due_at when overdue, else 0
    attention: bool  # an answer needing attention that no admin has acknowledged yet
    created_by: str
    created_at: datetime
    updated_at: datetime


class MyCheckin(msgspec.Struct):
    """A member's view: whether to expect check-ins, and whether one is waiting now."""

    enabled: bool
    has_plan: bool
    every_weeks: int | None
    next_due_at: datetime | None
    due: bool
    raise_concern_path: str  # the web app's page for raising a confidential concern, at any time


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    progressing: Progressing
    uncomfortable: bool
    wants_contact: bool
    comment: Annotated[str, msgspec.Meta(max_length=MAX_COMMENT)] | None = None


class MyAnswerOut(msgspec.Struct):
    """One of the caller's own answers."""

    checkin_id: str
    due_at: datetime
    answered_at: datetime
    progressing: str
    uncomfortable: bool
    wants_contact: bool
    comment: str | None
    next_due_at: datetime | None = None  # on answering: when the next check-in is due


class AnswerOut(msgspec.Struct):
    """An answer as admins read it."""

    checkin_id: str
    user_id: str
    due_at: datetime
    answered_at: datetime
    progressing: str
    uncomfortable: bool
    wants_contact: bool
    comment: str | None
    needs_attention: bool  # uncomfortable, wants contact, or not progressing
    acknowledged_by: str | None
    acknowledged_at: datetime | None
