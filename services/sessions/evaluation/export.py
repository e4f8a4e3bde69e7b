"""The survey's results as CSV (pure): the same suppressed aggregates as the JSON results, one row per group,
question and option (one row for a suppressed group, with nothing but its name).

Every cell is defended against formula injection: a spreadsheet would run a cell beginning with = + - @,
a tab or a carriage return as a formula (prompts and labels are admin-written text), so such a cell gets
a leading apostrophe, and every cell is quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from services.sessions.evaluation.schemas import GroupResult, SurveyQuestion

HEADER = ("version", "group", "suppressed", "respondents", "question_id", "question_prompt", "kind", "option",
          "option_label", "count")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _labels(question: SurveyQuestion) -> dict[str, str]:
    return {o.id: o.label for o in question.options or ()}


def to_csv(version: int, questions: Sequence[SurveyQuestion], groups: Sequence[GroupResult]) -> str:
    by_id = {q.id: q for q in questions}
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(HEADER)
    for group in groups:
        if group.suppressed or group.questions is None:
            writer.writerow([cell(v) for v in (version, group.group, "true", "", "", "", "", "", "", "")])
            continue
        for counts in group.questions:
            question = by_id[counts.question_id]
            labels = _labels(question)
            for c in counts.counts:
                writer.writerow([cell(v) for v in (
                    version, group.group, "false", group.respondents, question.id, question.prompt, question.kind,
                    c.option, labels.get(c.option, c.option), c.count)])
    return out.getvalue()
