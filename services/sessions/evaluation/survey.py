"""What a survey version may hold and what an answer to it may be, beyond the bodies' types (schemas.py).
Pure checks: a refusal is a 422 naming the question, never echoing an answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.sessions.evaluation.schemas import SCALE, SurveyQuestion
from shared.http import Unprocessable

MIN_OPTIONS = 2


def check_definition(questions: Sequence[SurveyQuestion]) -> None:
    """Unique question ids; choice questions with 2..12 options of unique ids; scale questions without."""
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise Unprocessable(f"Question id {q.id} is used twice.", slug="invalid-survey")
        seen.add(q.id)
        if q.kind == "scale":
            if q.options:
                raise Unprocessable(f"Question {q.id} is a 1 to 5 scale: it takes no options.", slug="invalid-survey")
            continue
        options = q.options or []
        if len(options) < MIN_OPTIONS:
            raise Unprocessable(f"Question {q.id} needs 2 to 12 options.", slug="invalid-survey")
        if len({o.id for o in options}) != len(options):
            raise Unprocessable(f"Question {q.id} has two options with the same id.", slug="invalid-survey")


def _bad(qid: str, why: str) -> Unprocessable:
    return Unprocessable(f"The answer to question {qid} {why}.", slug="invalid-answer", extra={"question": qid})


def check_answers(questions: Sequence[SurveyQuestion], answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers as they will be stored (multiple choices in the survey's option order), or a 422 for an
    unknown question or an answer that does not fit its question."""
    by_id = {q.id: q for q in questions}
    clean: dict[str, Any] = {}
    for qid, value in answers.items():
        question = by_id.get(qid)
        if question is None:
            raise Unprocessable(f"This version of the survey has no question {qid}.", slug="invalid-answer",
                                extra={"question": qid})
        option_ids = [o.id for o in question.options or ()]
        if question.kind == "scale":
            if type(value) is not int or value not in SCALE:
                raise _bad(qid, "must be a whole number from 1 to 5")
            clean[qid] = value
        elif question.kind == "single":
            if not isinstance(value, str) or value not in option_ids:
                raise _bad(qid, "must be the id of one of its options")
            clean[qid] = value
        else:
            if (not isinstance(value, list) or not value or len(set(value)) != len(value)
                    or not set(value) <= set(option_ids)):
                raise _bad(qid, "must be a list of distinct ids of its options (at least one)")
            clean[qid] = [o for o in option_ids if o in value]
    return clean
