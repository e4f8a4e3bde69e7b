"""The survey's results as admins may see them: counts per question and option, per group of respondents,
with small groups suppressed. Pure functions, no I/O (tests/sessions/test_evaluation_aggregate.py checks
them with generated response sets).

Rules:
- A group is a set of respondents: "all", and with `by_role` also "mentor" and "mentee" (each respondent
  has exactly one role, so all = mentor + mentee). A group's n is its number of respondents, whatever they
  skipped; counts per option are over the group's respondents (a respondent who skipped a question counts
  nowhere for it; several options of a multiple-choice question each count once).
- Primary suppression: a group with fewer than MIN_GROUP respondents shows nothing: no counts, no n.
- Secondary suppression: the role groups are shown together or not at all. Were "all" shown with only
  one role group, the other would be "all" minus it; so when either role group is below MIN_GROUP, both
  are suppressed, and "all" is shown by its own size. (Shown sets are thus {}, {all} or {all, mentor,
  mentee}, every shown group with at least MIN_GROUP respondents.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.sessions.evaluation.schemas import SCALE, GroupResult, OptionCount, QuestionCounts, SurveyQuestion

MIN_GROUP = 5
ALL = "all"
ROLES = ("mentor", "mentee")

Answers = Mapping[str, Any]


def options_of(question: SurveyQuestion) -> list[str]:
    """The answers a question counts, in the order they are shown."""
    if question.kind == "scale":
        return [str(v) for v in SCALE]
    return [o.id for o in question.options or ()]


def _chosen(question: SurveyQuestion, value: Any) -> list[str]:
    """The option ids an answer chose (nothing for an answer that does not fit: stored answers were
    validated, but a stale or damaged one must not count as something it is not)."""
    if question.kind == "scale":
        return [str(value)] if type(value) is int and value in SCALE else []
    if question.kind == "single":
        return [value] if isinstance(value, str) else []
    if isinstance(value, list):
        return list(dict.fromkeys(v for v in value if isinstance(v, str)))
    return []


def count(questions: Sequence[SurveyQuestion], group: Iterable[Answers]) -> list[QuestionCounts]:
    """Exact counts per question and option over one group's answers."""
    tallies: dict[str, dict[str, int]] = {q.id: dict.fromkeys(options_of(q), 0) for q in questions}
    by_id = {q.id: q for q in questions}
    for answers in group:
        for qid, value in answers.items():
            question = by_id.get(qid)
            if question is None:
                continue
            tally = tallies[qid]
            for option in _chosen(question, value):
                if option in tally:
                    tally[option] += 1
    return [QuestionCounts(question_id=q.id, kind=q.kind,
                           counts=[OptionCount(option=o, count=n) for o, n in tallies[q.id].items()])
            for q in questions]


def shown_groups(sizes: Mapping[str, int]) -> set[str]:
    """Which groups may be shown, given every group's size ("all", and the role groups when split)."""
    shown = {g for g, n in sizes.items() if n >= MIN_GROUP}
    split = [r for r in ROLES if r in sizes]
    if split and not all(r in shown for r in split):
        shown -= set(split)  # secondary suppression: no role group is "all" minus a shown one
    return shown


def aggregate(questions: Sequence[SurveyQuestion], responses: Sequence[tuple[str, Answers]], *,
              by_role: bool = False) -> list[GroupResult]:
    """The groups' results: "all" first, then (with `by_role`) "mentor" and "mentee". `responses` are
    (role of the respondent, answers); a role other than mentor or mentee is a ValueError."""
    for role, _answers in responses:
        if role not in ROLES:
            raise ValueError(f"unknown respondent role {role!r}")
    groups: dict[str, list[Answers]] = {ALL: [a for _r, a in responses]}
    if by_role:
        for role in ROLES:
            groups[role] = [a for r, a in responses if r == role]
    shown = shown_groups({g: len(members) for g, members in groups.items()})
    return [GroupResult(group=g, suppressed=False, respondents=len(members), questions=count(questions, members))
            if g in shown else GroupResult(group=g, suppressed=True)
            for g, members in groups.items()]
