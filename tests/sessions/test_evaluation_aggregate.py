"""The survey's aggregates (services/sessions/evaluation/aggregate.py), checked on generated response sets:
no shown group has fewer than MIN_GROUP respondents, no suppressed group can be derived from shown ones by
subtraction, and shown counts are exact. Also the answers' checks and the CSV's formula defence (pure)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.sessions.evaluation.aggregate import ALL, MIN_GROUP, ROLES, aggregate, options_of, shown_groups
from services.sessions.evaluation.export import HEADER, cell, to_csv
from services.sessions.evaluation.schemas import GroupResult, SurveyOption, SurveyQuestion
from services.sessions.evaluation.survey import check_answers, check_definition
from shared.http import Unprocessable

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _option_ids(n: int) -> list[SurveyOption]:
    return [SurveyOption(id=f"o{i}", label=f"Option {i}") for i in range(n)]


@st.composite
def surveys(draw: st.DrawFn) -> list[SurveyQuestion]:
    kinds = draw(st.lists(st.sampled_from(["scale", "single", "multiple"]), min_size=1, max_size=4))
    return [SurveyQuestion(id=f"q{i}", kind=kind, prompt=f"Question {i}",
                           options=None if kind == "scale" else _option_ids(draw(st.integers(2, 5))))
            for i, kind in enumerate(kinds)]


def _answer(question: SurveyQuestion) -> st.SearchStrategy[Any]:
    if question.kind == "scale":
        return st.integers(1, 5)
    ids = [o.id for o in question.options or ()]
    if question.kind == "single":
        return st.sampled_from(ids)
    return st.lists(st.sampled_from(ids), min_size=1, unique=True)


@st.composite
def response_sets(draw: st.DrawFn) -> tuple[list[SurveyQuestion], list[tuple[str, dict[str, Any]]]]:
    """A survey and responses to it; each response skips any question it likes. Group sizes cluster
    around MIN_GROUP, where suppression decides."""
    questions = draw(surveys())
    responses = []
    for role in ROLES:
        for _ in range(draw(st.integers(0, 2 * MIN_GROUP + 2))):
            answered = draw(st.lists(st.sampled_from(questions), unique_by=lambda q: q.id))
            responses.append((role, {q.id: draw(_answer(q)) for q in answered}))
    return questions, draw(st.permutations(responses))


def _reference(questions: list[SurveyQuestion], group: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """Counting done another way: each answer's chosen options, tallied."""
    out: dict[str, Counter[str]] = {q.id: Counter() for q in questions}
    for answers in group:
        for qid, value in answers.items():
            out[qid].update([str(v) for v in value] if isinstance(value, list) else [str(value)])
    return out


def _check(questions: list[SurveyQuestion], responses: list[tuple[str, dict[str, Any]]],
           groups: list[GroupResult]) -> None:
    members = {ALL: [a for _r, a in responses], **{r: [a for role, a in responses if role == r] for r in ROLES}}
    shown = {g.group for g in groups if not g.suppressed}
    for g in groups:
        if g.suppressed:  # nothing at all: no counts, not even n
            assert g.respondents is None and g.questions is None, g
            continue
        assert g.respondents is not None and g.respondents >= MIN_GROUP, g
        assert g.respondents == len(members[g.group])
        expected = _reference(questions, members[g.group])
        assert g.questions is not None and [q.question_id for q in g.questions] == [q.id for q in questions]
        for q, counts in zip(questions, g.questions, strict=True):
            assert [c.option for c in counts.counts] == options_of(q)
            assert {c.option: c.count for c in counts.counts} == {o: expected[q.id][o] for o in options_of(q)}
    # No subtraction of shown groups gives a suppressed one: all = mentor + mentee, so a suppressed role
    # group would be derived from "all" and the other role group were both shown.
    for role in ROLES:
        other = next(r for r in ROLES if r != role)
        if role in {g.group for g in groups} - shown:
            assert not (ALL in shown and other in shown), (role, shown)
    # Exactly what may be shown is shown: no group is hidden without a reason.
    sizes = {g.group: len(members[g.group]) for g in groups}
    assert shown == shown_groups(sizes)
    assert (ALL in shown) == (sizes[ALL] >= MIN_GROUP)


@FAST
@given(response_sets(), st.booleans())
def test_aggregates_never_reveal_a_small_group(case: tuple[list[SurveyQuestion], list[tuple[str, dict[str, Any]]]],
                                               by_role: bool) -> None:
    questions, responses = case
    groups = aggregate(questions, responses, by_role=by_role)
    assert [g.group for g in groups] == ([ALL, *ROLES] if by_role else [ALL])
    _check(questions, responses, groups)


@FAST
@given(st.dictionaries(st.sampled_from([ALL, *ROLES]), st.integers(0, 3 * MIN_GROUP)))
def test_shown_groups_never_allow_subtraction(sizes: dict[str, int]) -> None:
    shown = shown_groups(sizes)
    assert all(sizes[g] >= MIN_GROUP for g in shown)
    split = [r for r in ROLES if r in sizes]
    if split:  # role groups are shown all together or not at all
        assert not shown & set(split) or set(split) <= shown


def test_role_split_examples() -> None:
    scale = [SurveyQuestion(id="q", kind="scale", prompt="How was it?")]
    mentors = [("mentor", {"q": 5})] * 7
    mentees = [("mentee", {"q": 1})] * 4
    groups = {g.group: g for g in aggregate(scale, mentors + mentees, by_role=True)}
    # 11 in all, shown; mentees are 4: suppressed, and so are the mentors (all - mentors = mentees).
    assert not groups[ALL].suppressed and groups[ALL].respondents == 11
    assert groups["mentee"].suppressed and groups["mentor"].suppressed
    assert groups[ALL].questions is not None
    assert {c.option: c.count for c in groups[ALL].questions[0].counts} == {"1": 4, "2": 0, "3": 0, "4": 0, "5": 7}
    groups = {g.group: g for g in aggregate(scale, mentors + mentees + [("mentee", {})], by_role=True)}
    assert not any(g.suppressed for g in groups.values())  # a respondent who skipped everything still counts
    assert groups["mentee"].respondents == 5
    assert all(g.suppressed for g in aggregate(scale, mentors[:4], by_role=False))
    assert all(g.suppressed for g in aggregate(scale, [], by_role=True))
    with pytest.raises(ValueError):
        aggregate(scale, [("admin", {"q": 3})])


# -- answers and definitions -------------------------------------------------------------------------------

QUESTIONS = [SurveyQuestion(id="overall", kind="scale", prompt="Overall"),
             SurveyQuestion(id="format", kind="single", prompt="Format", options=_option_ids(3)),
             SurveyQuestion(id="topics", kind="multiple", prompt="Topics", options=_option_ids(4))]


@pytest.mark.parametrize("answers", [
    {"overall": 0}, {"overall": 6}, {"overall": "5"}, {"overall": True}, {"overall": [1]},
    {"format": "o9"}, {"format": 1}, {"format": ["o1"]},
    {"topics": []}, {"topics": ["o1", "o1"]}, {"topics": ["o7"]}, {"topics": "o1"},
    {"nope": 1},
])
def test_answers_that_do_not_fit_are_refused(answers: dict[str, Any]) -> None:
    with pytest.raises(Unprocessable):
        check_answers(QUESTIONS, answers)


def test_answers_are_kept_in_the_surveys_order() -> None:
    assert check_answers(QUESTIONS, {"topics": ["o3", "o0"], "overall": 4, "format": "o2"}) == {
        "topics": ["o0", "o3"], "overall": 4, "format": "o2"}


@pytest.mark.parametrize("questions", [
    [SurveyQuestion(id="a", kind="scale", prompt="x"), SurveyQuestion(id="a", kind="scale", prompt="y")],
    [SurveyQuestion(id="a", kind="scale", prompt="x", options=_option_ids(2))],
    [SurveyQuestion(id="a", kind="single", prompt="x", options=_option_ids(1))],
    [SurveyQuestion(id="a", kind="multiple", prompt="x")],
    [SurveyQuestion(id="a", kind="single", prompt="x", options=[SurveyOption(id="o", label="1"),
                                                                  SurveyOption(id="o", label="2")])],
])
def test_bad_definitions_are_refused(questions: list[SurveyQuestion]) -> None:
    with pytest.raises(Unprocessable):
        check_definition(questions)


# -- CSV -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("danger", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_cannot_start_a_formula(danger: str) -> None:
    assert cell(f"{danger}HYPERLINK(\"http://x\")") == f"'{danger}HYPERLINK(\"http://x\")"
    assert cell(f"a{danger}b") == f"a{danger}b" and cell(7) == "7" and cell(None) == ""


def test_csv_rows_match_the_aggregates() -> None:
    questions = [SurveyQuestion(id="format", kind="single", prompt="=1+1",
                                options=[SurveyOption(id="a", label="@SUM(A1)"), SurveyOption(id="b", label="-2")])]
    responses = [("mentor", {"format": "a"})] * 5 + [("mentee", {"format": "b"})] * 2
    text = to_csv(3, questions, aggregate(questions, responses, by_role=True))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == HEADER
    assert rows[1:] == [
        ["3", "all", "false", "7", "format", "'=1+1", "single", "a", "'@SUM(A1)", "5"],
        ["3", "all", "false", "7", "format", "'=1+1", "single", "b", "'-2", "2"],
        ["3", "mentor", "true", "", "", "", "", "", "", ""],
        ["3", "mentee", "true", "", "", "", "", "", "", ""],
    ]
