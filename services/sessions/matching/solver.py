"""The matching core: score mentee-mentor pairs, explain each score, and assign a whole round optimally.

Pure (no I/O): profiles, questionnaire answers, preferences and exclusions come in as frozen values; a
`Round` of proposed pairs comes out for an admin to review. Nothing here is final: members confirm.

Score of a pair (`score`): a sum of weighted parts, each kept so an admin sees why a pair ranks where it
does. `total == sum(part.contribution)`, each contribution is `weight * value`:
- "preference: 1st choice" (2nd, 3rd): weight `Weights.preference[rank]`, value 1; a mentor the mentee
  did not choose gives "preference: not chosen" with weight 0 and value 0 ("match me" mentees have none);
- "question: <id>" for each question the programme weighted: value the Jaccard similarity of the two
  answer sets (|A & B| / |A | B|), 0 when either left it unanswered (absent or empty);
- "language": value 1 when they share a language, else 0 (scored, not a hard rule);
- "areas": Jaccard similarity of their areas (0 when either has none).

Hard rules (`why_not`): a declared conflict of interest, a pair declined in an earlier round, and a
mentor or mentee unavailable (not vetted, suspended, agreements not accepted: the caller's reason) forbid
a pair. A mentor's capacity is the number of places left now; 0 means full.

A round (`match_round`) maximises the sum of the chosen pairs' scores subject to each mentee having at
most one mentor and each mentor at most `capacity` mentees, with `scipy.optimize.linear_sum_assignment`
(Jonker-Volgenant; exact) on an expanded matrix: a mentee side (mentees no allowed mentor with room could
take are left out) and a place side (each mentor repeated `capacity` times, capped at the number of
mentees). The smaller side becomes the rows, and each row gets its own "stay out" column costing 0, so
the problem is always feasible and nobody is forced into a pair; the larger side's leftovers simply stay
unassigned (rectangular problem). Either layout has the same optimum; fewer rows is much faster (1,000
mentees against ~800 places: ~0.03 s instead of ~0.25 s). Forbidden pairs cost +inf, which the solver
never picks. The matrix is built with numpy: answer sets become 0/1 indicator matrices, and their
intersections one matrix product per question (`score_matrix` equals `score` exactly, same sums in the
same order).

Prefer pairing over leaving someone waiting: an allowed pair with score 0 (a "match me" mentee with no
overlap) is worth the same as no pair, and the solver's own tie-break can leave someone waiting (a test
holds such a case). Every allowed pair therefore gets a bonus `eps = EPSILON * max(1, best possible
score)`, and the solver maximises `S + eps * k` (S the score total, k the number of pairs). Among rounds
with the optimal S it picks one with the most pairs. The trade-off: it may give up at most `eps * n` of S
(n mentees) for more pairs, i.e. rounds whose totals differ by less than about 1e-6 of one pair's best
score (for 1,000 mentees) count as equal. Reported scores and totals never include the bonus. An exact
lexicographic optimum would need a second solve constrained to the optimal total, which an assignment
solver cannot express; integer scores would allow an exact scaling, but Jaccard values are not integers.

Deterministic: mentees and mentors are sorted by id first, and the solver is deterministic.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

EPSILON = 1e-9
RANKS = ("1st choice", "2nd choice", "3rd choice")
NO_ROOM = "no mentor with room is allowed"
TAKEN = "every allowed mentor's places went to other mentees"

Matrix = NDArray[np.float64]


def _frozen_answers(answers: Mapping[str, frozenset[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({q: frozenset(a) for q, a in answers.items()})


@dataclass(frozen=True)
class Mentor:
    id: str
    capacity: int
    answers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a mentor needs an id")
        if self.capacity < 0:
            raise ValueError(f"mentor {self.id}: capacity must be 0 or more, not {self.capacity}")
        object.__setattr__(self, "answers", _frozen_answers(self.answers))


@dataclass(frozen=True)
class Mentee:
    id: str
    preferences: tuple[str, ...] = ()
    answers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a mentee needs an id")
        if len(self.preferences) > len(RANKS):
            raise ValueError(f"mentee {self.id}: at most {len(RANKS)} preferences, not {len(self.preferences)}")
        if len(set(self.preferences)) != len(self.preferences):
            raise ValueError(f"mentee {self.id}: a mentor appears twice in the preferences")
        object.__setattr__(self, "answers", _frozen_answers(self.answers))


def _check_weight(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"weight {name} must be a finite number of 0 or more, not {value!r}")


@dataclass(frozen=True)
class Weights:
    preference: tuple[float, float, float] = (1.0, 0.6, 0.3)
    questions: Mapping[str, float] = field(default_factory=dict)
    language: float = 0.5
    areas: float = 0.5

    def __post_init__(self) -> None:
        if len(self.preference) != len(RANKS):
            raise ValueError(f"weight preference needs {len(RANKS)} values (1st, 2nd, 3rd choice)")
        for rank, value in zip(RANKS, self.preference, strict=True):
            _check_weight(f"preference ({rank})", value)
        for question, value in self.questions.items():
            _check_weight(f"for question {question!r}", value)
        _check_weight("language", self.language)
        _check_weight("areas", self.areas)
        questions = MappingProxyType({q: float(w) for q, w in sorted(self.questions.items())})
        normal: dict[str, object] = {"preference": tuple(map(float, self.preference)), "questions": questions,
                                     "language": float(self.language), "areas": float(self.areas)}
        for name, normalised in normal.items():
            object.__setattr__(self, name, normalised)

    @property
    def best(self) -> float:
        """The highest score any pair can reach."""
        return max(self.preference) + sum(self.questions.values()) + self.language + self.areas


@dataclass(frozen=True)
class Exclusions:
    conflicts: frozenset[tuple[str, str]] = frozenset()  # (mentee, mentor) declared conflicts of interest
    declined: frozenset[tuple[str, str]] = frozenset()  # (mentee, mentor) declined in an earlier round
    unavailable_mentors: Mapping[str, str] = field(default_factory=dict)  # id -> reason
    unavailable_mentees: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("unavailable_mentors", "unavailable_mentees"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


@dataclass(frozen=True)
class Part:
    name: str
    weight: float
    value: float
    contribution: float


@dataclass(frozen=True)
class Score:
    total: float
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Assignment:
    mentee: str
    mentor: str
    score: Score


@dataclass(frozen=True)
class Unmatched:
    mentee: str
    reason: str


@dataclass(frozen=True)
class Round:
    assignments: tuple[Assignment, ...]
    unmatched: tuple[Unmatched, ...]
    total: float


def _jaccard(a: frozenset[str] | None, b: frozenset[str] | None) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def score(mentee: Mentee, mentor: Mentor, weights: Weights) -> Score:
    """The pair's score and its parts (see the module docstring); the sum is left to right, as in a round."""
    if mentor.id in mentee.preferences:
        rank = mentee.preferences.index(mentor.id)
        parts = [Part(f"preference: {RANKS[rank]}", weights.preference[rank], 1.0, weights.preference[rank] * 1.0)]
    else:
        parts = [Part("preference: not chosen", 0.0, 0.0, 0.0)]
    for question, weight in weights.questions.items():
        value = _jaccard(mentee.answers.get(question), mentor.answers.get(question))
        parts.append(Part(f"question: {question}", weight, value, weight * value))
    shared = 1.0 if mentee.languages & mentor.languages else 0.0
    parts.append(Part("language", weights.language, shared, weights.language * shared))
    areas = _jaccard(mentee.areas, mentor.areas)
    parts.append(Part("areas", weights.areas, areas, weights.areas * areas))
    return Score(total=sum(p.contribution for p in parts), parts=tuple(parts))


def why_not(mentee: Mentee, mentor: Mentor, exclusions: Exclusions) -> str | None:
    """Why the pair may not be proposed, or None if it may (capacity is not checked here)."""
    if mentee.id in exclusions.unavailable_mentees:
        return f"mentee unavailable: {exclusions.unavailable_mentees[mentee.id]}"
    if mentor.id in exclusions.unavailable_mentors:
        return f"mentor unavailable: {exclusions.unavailable_mentors[mentor.id]}"
    if (mentee.id, mentor.id) in exclusions.conflicts:
        return "declared conflict of interest"
    if (mentee.id, mentor.id) in exclusions.declined:
        return "declined in an earlier round"
    return None


def suggestions(
    mentee: Mentee, mentors: Iterable[Mentor], weights: Weights, exclusions: Exclusions, limit: int = 5
) -> list[tuple[str, Score]]:
    """The best `limit` allowed mentors with room for `mentee`, best first (ties: by mentor id)."""
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    ranked = [(m.id, score(mentee, m, weights)) for m in mentors
              if m.capacity > 0 and why_not(mentee, m, exclusions) is None]
    ranked.sort(key=lambda item: (-item[1].total, item[0]))
    return ranked[:limit]


def _indicators(sets: Sequence[frozenset[str] | None], index: Mapping[str, int]) -> Matrix:
    out = np.zeros((len(sets), len(index)), dtype=np.float64)
    for row, items in enumerate(sets):
        for item in items or ():
            out[row, index[item]] = 1.0
    return out


def _jaccard_matrix(left: Sequence[frozenset[str] | None], right: Sequence[frozenset[str] | None]) -> Matrix:
    """Jaccard similarity of every left set with every right set; 0 where either is empty."""
    index = {item: i for i, item in enumerate(sorted({x for s in (*left, *right) if s for x in s}))}
    a, b = _indicators(left, index), _indicators(right, index)
    inter = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    out: Matrix = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def score_matrix(mentees: Sequence[Mentee], mentors: Sequence[Mentor], weights: Weights) -> Matrix:
    """`score(e, m, weights).total` for every mentee row and mentor column, vectorised (same sums, same order)."""
    position = {m.id: j for j, m in enumerate(mentors)}
    total = np.zeros((len(mentees), len(mentors)), dtype=np.float64)
    for i, mentee in enumerate(mentees):
        for rank, mentor_id in enumerate(mentee.preferences):
            if mentor_id in position:
                total[i, position[mentor_id]] = weights.preference[rank] * 1.0
    for question, weight in weights.questions.items():
        left, right = [e.answers.get(question) for e in mentees], [m.answers.get(question) for m in mentors]
        total += weight * _jaccard_matrix(left, right)
    shared = _jaccard_matrix([e.languages for e in mentees], [m.languages for m in mentors]) > 0
    total += weights.language * shared.astype(np.float64)
    total += weights.areas * _jaccard_matrix([e.areas for e in mentees], [m.areas for m in mentors])
    return total


def allowed_matrix(mentees: Sequence[Mentee], mentors: Sequence[Mentor], exclusions: Exclusions) -> NDArray[np.bool_]:
    """True where `why_not` is None, vectorised."""
    rows = {e.id: i for i, e in enumerate(mentees)}
    cols = {m.id: j for j, m in enumerate(mentors)}
    allowed = np.ones((len(mentees), len(mentors)), dtype=np.bool_)
    allowed[[rows[e] for e in exclusions.unavailable_mentees if e in rows], :] = False
    allowed[:, [cols[m] for m in exclusions.unavailable_mentors if m in cols]] = False
    for mentee_id, mentor_id in exclusions.conflicts | exclusions.declined:
        if mentee_id in rows and mentor_id in cols:
            allowed[rows[mentee_id], cols[mentor_id]] = False
    return allowed


def _assign(gain: Matrix) -> list[tuple[int, int]]:
    """(row, column) pairs of a maximum-gain matching; -inf gains are never chosen, and a vertex may stay out."""
    flip = gain.shape[1] < gain.shape[0]  # fewer rows is faster: lay the smaller side out as rows
    cost = -(gain.T if flip else gain)
    cost = np.hstack([cost, np.zeros((cost.shape[0], cost.shape[0]), dtype=np.float64)])  # "stay out"
    rows, cols = linear_sum_assignment(cost)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if c < gain.shape[0 if flip else 1]]
    return [(c, r) for r, c in pairs] if flip else pairs


_Party = TypeVar("_Party", Mentee, Mentor)


def _unique_by_id(kind: str, items: Iterable[_Party]) -> list[_Party]:
    ordered = sorted(items, key=lambda x: x.id)
    for a, b in itertools.pairwise(ordered):
        if a.id == b.id:
            raise ValueError(f"{kind} {a.id} appears twice")
    return ordered


def match_round(
    mentees: Iterable[Mentee], mentors: Iterable[Mentor], weights: Weights, exclusions: Exclusions
) -> Round:
    """An optimal assignment of `mentees` to `mentors` within capacities (see the module docstring)."""
    es = _unique_by_id("mentee", mentees)
    ms = _unique_by_id("mentor", mentors)
    n = len(es)
    allowed = allowed_matrix(es, ms, exclusions)
    places = np.array([min(m.capacity, n) for m in ms], dtype=np.int64) * allowed.any(axis=0)
    slots = np.repeat(np.arange(len(ms)), places)  # place -> mentor index (mentors nobody may take: none)
    with_room: NDArray[np.bool_] = np.any(allowed & (places > 0)[None, :], axis=1)
    active = np.flatnonzero(with_room)  # a mentee no mentor with room may take stays out of the matrix
    bonus = EPSILON * max(1.0, weights.best)
    gain = np.where(allowed[active], score_matrix([es[i] for i in active], ms, weights) + bonus, -np.inf)
    pairs = _assign(gain[:, slots])
    chosen = {int(active[r]): int(slots[c]) for r, c in pairs}
    assignments: list[Assignment] = []
    unmatched: list[Unmatched] = []
    for i, mentee in enumerate(es):
        if i in chosen:
            mentor = ms[chosen[i]]
            assignments.append(Assignment(mentee.id, mentor.id, score(mentee, mentor, weights)))
        elif mentee.id in exclusions.unavailable_mentees:
            unmatched.append(Unmatched(mentee.id, f"unavailable: {exclusions.unavailable_mentees[mentee.id]}"))
        else:
            unmatched.append(Unmatched(mentee.id, TAKEN if with_room[i] else NO_ROOM))
    return Round(tuple(assignments), tuple(unmatched), sum((a.score.total for a in assignments), 0.0))
