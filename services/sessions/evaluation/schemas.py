"""Evaluation bodies: a member's private reflection on a pairing, the programme's survey (versions published
by admins), one member's answers, and the aggregated results admins read.

A reflection's `text` is confidential: returned to its author only, never logged. The survey has no free
text on purpose: only closed answers (a 1..5 scale, one option, several options) can be aggregated safely.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

IDENT = r"^[a-z][a-z0-9_]{0,31}$"
Ident = Annotated[str, msgspec.Meta(pattern=IDENT)]
Kind = Literal["scale", "single", "multiple"]
MAX_QUESTIONS = 30
MAX_OPTIONS = 12
SCALE = (1, 2, 3, 4, 5)


class WriteReflection(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=10000)]


class ReflectionOut(msgspec.Struct):
    """The caller's own reflection on the pairing; `text` and `updated_at` are null when they wrote none."""

    pairing_id: str
    text: str | None = None
    updated_at: datetime | None = None


class SurveyOption(msgspec.Struct, forbid_unknown_fields=True):
    id: Ident
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SurveyQuestion(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`scale`: an answer 1..5 (no options). `single` / `multiple`: 2..12 options, one or several chosen."""

    id: Ident
    kind: Kind
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    options: Annotated[list[SurveyOption], msgspec.Meta(max_length=MAX_OPTIONS)] | None = None


class PublishSurvey(msgspec.Struct, forbid_unknown_fields=True):
    questions: Annotated[list[SurveyQuestion], msgspec.Meta(min_length=1, max_length=MAX_QUESTIONS)]


class SurveyOut(msgspec.Struct):
    version: int
    questions: list[SurveyQuestion]
    published_at: datetime
    # For a mentor or mentee reading it (null for admins): whether they may answer it (they have been in
    # an active pairing), and whether they already answered this version.
    eligible: bool | None = None
    answered: bool | None = None


# A scale answer is an integer, a single choice an option id, a multiple choice a list of option ids.
AnswerValue = int | Annotated[str, msgspec.Meta(max_length=32)] | Annotated[
    list[Annotated[str, msgspec.Meta(max_length=32)]], msgspec.Meta(max_length=MAX_OPTIONS)]


class SubmitResponse(msgspec.Struct, forbid_unknown_fields=True):
    """Answers by question id; a question left out is skipped."""

    version: Annotated[int, msgspec.Meta(ge=1)]
    answers: Annotated[dict[Ident, AnswerValue], msgspec.Meta(min_length=1, max_length=MAX_QUESTIONS)]


class ResponseReceipt(msgspec.Struct):
    """Nothing that could link the stored answers back to the respondent: only the version answered."""

    version: int


class OptionCount(msgspec.Struct):
    option: str  # the option's id; for a scale question the value "1".."5"
    count: int


class QuestionCounts(msgspec.Struct):
    question_id: str
    kind: str
    counts: list[OptionCount]


class GroupResult(msgspec.Struct, omit_defaults=True):
    """One group of respondents ("all", "mentor", "mentee"). A suppressed group shows nothing else: not
    even how many respondents it has."""

    group: str
    suppressed: bool
    respondents: int | None = None
    questions: list[QuestionCounts] | None = None


class ResultsOut(msgspec.Struct):
    version: int
    min_group: int
    by: str  # "none" | "role"
    groups: list[GroupResult]
