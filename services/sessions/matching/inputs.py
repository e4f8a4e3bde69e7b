"""What a matching decision reads, gathered from this service's tables into the matching core's values:
mentors with the places they have left, the mentees waiting, the programme's weights, and the exclusions
(vetting, agreements, suspensions, declared conflicts, earlier declines). Answers are opened here and
live only in memory for the decision."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.vault import Vault
from services.sessions.matching.solver import Exclusions, Mentee, Mentor, Weights
from services.sessions.matching.tables import conflicts, preferences, weights
from services.sessions.pairings.service import OPEN_STATES
from services.sessions.pairings.tables import pairings
from services.sessions.profiles.service import places_taken
from services.sessions.profiles.tables import profiles
from services.sessions.questionnaire.schemas import Question
from services.sessions.questionnaire.service import answers_of, choice_sets, current
from services.sessions.users.tables import users

DEFAULT_WEIGHTS: dict[str, Any] = {"preference": [1.0, 0.6, 0.3], "language": 0.5, "areas": 0.5}


@dataclass(frozen=True)
class Inputs:
    mentors: tuple[Mentor, ...]
    mentees: tuple[Mentee, ...]  # waiting: asked to be matched, no open pairing, available
    weights: Weights
    exclusions: Exclusions


def _roles(row: Any) -> set[str]:
    return set(row.roles.split(","))


def unavailable(row: Any, *, mentor: bool) -> str | None:
    """Why a member cannot be matched now (a code an admin reads), or None."""
    if row.suspended:
        return "suspended"
    if not row.agreements_accepted:
        return "agreements not accepted"
    if mentor and not row.vetted:
        return "not vetted"
    return None


async def programme_weights(conn: AsyncConnection, questions: Iterable[Question]) -> Weights:
    row = (await conn.execute(sa.select(weights.c.weights).where(weights.c.id == 1))).first()
    stored = json.loads(row.weights) if row else DEFAULT_WEIGHTS
    return Weights(preference=tuple(stored["preference"]), language=stored["language"], areas=stored["areas"],
                   questions={q.id: q.weight for q in questions if q.kind != "text" and q.weight > 0})


def _party_lists(row: Any) -> tuple[frozenset[str], frozenset[str]]:
    if row is None:
        return frozenset(), frozenset()
    return frozenset(json.loads(row.languages)), frozenset(json.loads(row.areas))


async def gather(conn: AsyncConnection, vault: Vault, *, only_mentee: str | None = None) -> Inputs:
    """Everything a round needs; `only_mentee` (suggestions for one mentee) gathers that mentee, waiting
    or not, and the mentors."""
    questionnaire = await current(conn)
    member_rows = (await conn.execute(sa.select(users))).all()
    mentor_rows = [r for r in member_rows if "mentor" in _roles(r)]
    profile_rows = {r.user_id: r for r in (await conn.execute(sa.select(profiles))).all()}
    prefs = {r.mentee_id: r for r in (await conn.execute(sa.select(preferences))).all()}
    busy = {r.mentee_id for r in (await conn.execute(sa.select(pairings.c.mentee_id).where(
        pairings.c.state.in_(OPEN_STATES)))).all()}
    if only_mentee is not None:
        mentee_rows = [r for r in member_rows if r.user_id == only_mentee and "mentee" in _roles(r)]
    else:
        mentee_rows = [r for r in member_rows if "mentee" in _roles(r) and r.user_id in prefs
                       and (json.loads(prefs[r.user_id].choices) or prefs[r.user_id].match_me)
                       and r.user_id not in busy]
    # A mentor without a capacity in their profile has not offered places yet: not a candidate.
    mentor_rows = [r for r in mentor_rows if r.user_id in profile_rows
                   and profile_rows[r.user_id].capacity is not None]
    given = await answers_of(conn, vault, [r.user_id for r in (*mentor_rows, *mentee_rows)])
    taken = await places_taken(conn)
    mentors = []
    for r in mentor_rows:
        langs, areas = _party_lists(profile_rows[r.user_id])
        left = max(0, profile_rows[r.user_id].capacity - taken.get(r.user_id, 0))
        mentors.append(Mentor(r.user_id, left, choice_sets(questionnaire.questions, given.get(r.user_id, {})),
                              langs, areas))
    mentees = []
    for r in mentee_rows:
        langs, areas = _party_lists(profile_rows.get(r.user_id))
        chosen = tuple(json.loads(prefs[r.user_id].choices)) if r.user_id in prefs else ()
        mentees.append(Mentee(r.user_id, chosen, choice_sets(questionnaire.questions, given.get(r.user_id, {})),
                              langs, areas))
    return Inputs(tuple(mentors), tuple(mentees), await programme_weights(conn, questionnaire.questions),
                  await exclusions(conn, mentor_rows, mentee_rows))


async def exclusions(conn: AsyncConnection, mentor_rows: Iterable[Any], mentee_rows: Iterable[Any]) -> Exclusions:
    declared = {(r.mentee_id, r.mentor_id) for r in (await conn.execute(sa.select(conflicts))).all()}
    declined = {(r.mentee_id, r.mentor_id) for r in (await conn.execute(
        sa.select(pairings.c.mentee_id, pairings.c.mentor_id).where(pairings.c.state == "declined"))).all()}
    return Exclusions(conflicts=frozenset(declared), declined=frozenset(declined),
                      unavailable_mentors=_reasons(mentor_rows, mentor=True),
                      unavailable_mentees=_reasons(mentee_rows, mentor=False))


def _reasons(rows: Iterable[Any], *, mentor: bool) -> Mapping[str, str]:
    return {r.user_id: reason for r in rows if (reason := unavailable(r, mentor=mentor)) is not None}
