"""Questionnaire bodies. Answers are confidential: returned to their author and to admins who match,
never logged; answers to questions marked `special` (identity: ethnicity, gender, faith...) are kept only
with the member's explicit consent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Key = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
AnswerValue = Annotated[str, msgspec.Meta(max_length=2000)] | Annotated[list[Key], msgspec.Meta(max_length=30)]


class Option(msgspec.Struct, forbid_unknown_fields=True):
    id: Key
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Question(msgspec.Struct, forbid_unknown_fields=True):
    id: Key
    kind: Literal["single", "multiple", "text"]
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    options: Annotated[list[Option], msgspec.Meta(max_length=30)] = msgspec.field(default_factory=list)
    # Special-category data (UK GDPR art. 9): optional, asked with explicit consent, sealed apart.
    special: bool = False
    # How much a shared answer counts in matching (choice questions only; 0: not used for matching).
    weight: Annotated[float, msgspec.Meta(ge=0, le=10)] = 0.0


class QuestionnaireIn(msgspec.Struct, forbid_unknown_fields=True):
    questions: Annotated[list[Question], msgspec.Meta(min_length=1, max_length=40)]


class QuestionnaireOut(msgspec.Struct):
    version: int
    questions: list[Question]
    published_at: datetime | None


class AnswersIn(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    answers: dict[Key, AnswerValue]
    # Required (true) when any answer is to a special question: the member's explicit consent.
    special_consent: bool = False


class AnswersOut(msgspec.Struct):
    user_id: str
    version: int | None  # the questionnaire answered; None: not answered yet
    current_version: int  # the questionnaire in use now (answers to an older one are kept as they are)
    answers: dict[str, AnswerValue]
    special_consent: bool
    special_consent_at: datetime | None
    updated_at: datetime | None
