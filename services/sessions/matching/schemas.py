"""Matching bodies: the programme's weights, a mentee's preferences, conflicts of interest, suggestions
and rounds with the parts of each score (admins see why a pair ranks where it does)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from services.sessions.pairings.schemas import UserId

Weight = Annotated[float, msgspec.Meta(ge=0, le=10)]


class WeightsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Question weights are set on the questionnaire's questions."""

    preference: Annotated[list[Weight], msgspec.Meta(min_length=3, max_length=3)]  # 1st, 2nd, 3rd choice
    language: Weight
    areas: Weight


class WeightsOut(msgspec.Struct):
    preference: list[float]
    language: float
    areas: float
    questions: dict[str, float]  # from the questionnaire in use
    updated_at: datetime | None


class PreferencesIn(msgspec.Struct, forbid_unknown_fields=True):
    """Up to three mentors, best first; or none with `match_me` (the programme chooses)."""

    choices: Annotated[list[Annotated[str, UserId]], msgspec.Meta(max_length=3)] = msgspec.field(default_factory=list)
    match_me: bool = False


class PreferencesOut(msgspec.Struct):
    mentee_id: str
    choices: list[str]
    match_me: bool
    waiting: bool  # in the next matching round (asked to be matched and no open pairing)
    updated_at: datetime | None


class ConflictIn(msgspec.Struct, forbid_unknown_fields=True):
    """A mentee names a mentor, a mentor names a mentee; an admin names both."""

    mentee_id: Annotated[str, UserId] | None = None
    mentor_id: Annotated[str, UserId] | None = None


class ConflictOut(msgspec.Struct):
    mentee_id: str
    mentor_id: str
    declared_by: str
    declared_at: datetime


class PartOut(msgspec.Struct):
    name: str
    weight: float
    value: float
    contribution: float


class SuggestionOut(msgspec.Struct):
    mentor_id: str
    total: float
    parts: list[PartOut]


class ExcludedOut(msgspec.Struct):
    mentor_id: str
    reason: str


class SuggestionsOut(msgspec.Struct):
    mentee_id: str
    suggestions: list[SuggestionOut]  # best first
    excluded: list[ExcludedOut]  # mentors this mentee may not be given, and why
    full: list[str]  # allowed mentors with no place left


class AssignmentOut(msgspec.Struct):
    mentee_id: str
    mentor_id: str
    total: float
    parts: list[PartOut]
    pairing_id: str | None = None  # once sent
    not_sent: str | None = None  # once sent: why this one was not proposed (skipped, or no longer possible)


class UnmatchedOut(msgspec.Struct):
    mentee_id: str
    reason: str


class RoundOut(msgspec.Struct):
    round_id: str
    state: str  # draft | sent | discarded
    created_by: str
    created_at: datetime
    closed_at: datetime | None
    total: float
    assignments: list[AssignmentOut]
    unmatched: list[UnmatchedOut]


class RoundSummary(msgspec.Struct):
    round_id: str
    state: str
    created_by: str
    created_at: datetime
    closed_at: datetime | None


class SendRound(msgspec.Struct, forbid_unknown_fields=True):
    """Mentees whose proposed pair the admin leaves out (they stay waiting for the next round)."""

    skip: Annotated[list[Annotated[str, UserId]], msgspec.Meta(max_length=5000)] = msgspec.field(default_factory=list)
