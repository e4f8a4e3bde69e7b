"""Matching for one caller: a mentee's preferences, declared conflicts of interest, the programme's
weights, and an admin's suggestions for one mentee with the parts of every score. Rounds: rounds.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.vault import Vault
from services.sessions.matching import solver
from services.sessions.matching.inputs import gather, programme_weights
from services.sessions.matching.schemas import (
    ConflictIn,
    ConflictOut,
    ExcludedOut,
    PartOut,
    PreferencesIn,
    PreferencesOut,
    SuggestionOut,
    SuggestionsOut,
    WeightsIn,
    WeightsOut,
)
from services.sessions.matching.tables import conflicts, preferences, weights
from services.sessions.pairings.service import OPEN_STATES
from services.sessions.pairings.tables import pairings
from services.sessions.profiles.service import available_mentors, is_mentor
from services.sessions.questionnaire.service import current
from services.sessions.users.service import get_user
from shared.clock import utcnow
from shared.http import BadRequest, NotFound, Unprocessable
from shared.service import AuditedFeature

SUGGESTIONS = 10


def parts_out(score: solver.Score) -> list[PartOut]:
    return [PartOut(name=p.name, weight=p.weight, value=p.value, contribution=p.contribution) for p in score.parts]


async def _upsert(conn: AsyncConnection, table: sa.Table, key: sa.ColumnElement[bool], **values: Any) -> None:
    done = await conn.execute(sa.update(table).where(key).values(**values))
    if not done.rowcount:
        await conn.execute(sa.insert(table).values(**values))


@dataclass(frozen=True)
class Matching(AuditedFeature):
    vault: Vault

    # -- a mentee's preferences ------------------------------------------------------------------------

    async def _preferences(self, conn: AsyncConnection, mentee_id: str) -> PreferencesOut:
        row = (await conn.execute(sa.select(preferences).where(preferences.c.mentee_id == mentee_id))).first()
        busy = (await conn.execute(sa.select(pairings.c.pairing_id).where(
            pairings.c.mentee_id == mentee_id, pairings.c.state.in_(OPEN_STATES)).limit(1))).first()
        if row is None:
            return PreferencesOut(mentee_id=mentee_id, choices=[], match_me=False, waiting=False, updated_at=None)
        choices = json.loads(row.choices)
        return PreferencesOut(mentee_id=mentee_id, choices=choices, match_me=row.match_me,
                              waiting=bool(choices or row.match_me) and busy is None, updated_at=row.updated_at)

    async def my_preferences(self) -> PreferencesOut:
        async with self.runtime.engine.connect() as conn:
            return await self._preferences(conn, self.me.sub)

    async def set_preferences(self, data: PreferencesIn) -> PreferencesOut:
        if len(set(data.choices)) != len(data.choices):
            raise BadRequest("A mentor appears twice in your choices.")
        if data.choices and data.match_me:
            raise BadRequest("Choose up to three mentors, or ask to be matched, not both.")
        async with self.runtime.engine.begin() as conn:
            choosable = {r.user_id for r in (await conn.execute(available_mentors())).all() if is_mentor(r)}
            if set(data.choices) - choosable:
                raise Unprocessable("You can choose only among the mentors listed for you.",
                                    slug="mentor-not-choosable")
            await _upsert(conn, preferences, preferences.c.mentee_id == self.me.sub, mentee_id=self.me.sub,
                          choices=json.dumps(data.choices), match_me=data.match_me, updated_at=utcnow())
            await self.audit(conn, "matching.preferences", f"user:{self.me.sub}")
            return await self._preferences(conn, self.me.sub)

    async def waiting(self) -> list[PreferencesOut]:
        """Every mentee waiting for a match (asked to be matched, no open pairing), oldest request first."""
        async with self.runtime.engine.connect() as conn:
            ids = [r.mentee_id for r in (await conn.execute(
                sa.select(preferences.c.mentee_id).order_by(preferences.c.updated_at))).all()]
            found = [await self._preferences(conn, mentee_id) for mentee_id in ids]
        return [p for p in found if p.waiting]

    async def preferences_of(self, mentee_id: str) -> PreferencesOut:
        async with self.runtime.engine.connect() as conn:
            return await self._preferences(conn, mentee_id)

    # -- conflicts of interest -------------------------------------------------------------------------

    async def declare_conflict(self, data: ConflictIn) -> ConflictOut:
        me = self.me
        if me.has("admin"):
            if not data.mentee_id or not data.mentor_id:
                raise BadRequest("An admin names both mentee_id and mentor_id.")
            mentee_id, mentor_id = data.mentee_id, data.mentor_id
        elif me.has("mentee") and data.mentor_id and data.mentee_id in (None, me.sub):
            mentee_id, mentor_id = me.sub, data.mentor_id
        elif me.has("mentor") and data.mentee_id and data.mentor_id in (None, me.sub):
            mentee_id, mentor_id = data.mentee_id, me.sub
        else:
            raise BadRequest("Name the other person: a mentee names mentor_id, a mentor names mentee_id.")
        async with self.runtime.engine.begin() as conn:
            # Declaring is allowed for any id (telling whether a person exists would be an oracle); an
            # unknown id simply never matches.
            now = utcnow()
            key = sa.and_(conflicts.c.mentee_id == mentee_id, conflicts.c.mentor_id == mentor_id)
            if (await conn.execute(sa.select(conflicts).where(key))).first() is None:
                await conn.execute(sa.insert(conflicts).values(mentee_id=mentee_id, mentor_id=mentor_id,
                                                               declared_by=me.sub, declared_at=now))
            await self.audit(conn, "matching.conflict.declare", f"user:{me.sub}")
            row = (await conn.execute(sa.select(conflicts).where(key))).one()
        return ConflictOut(mentee_id=row.mentee_id, mentor_id=row.mentor_id, declared_by=row.declared_by,
                           declared_at=row.declared_at)

    async def conflicts(self) -> list[ConflictOut]:
        """Admins: every declared conflict. Members: the ones they declared (the other person is not told)."""
        query = sa.select(conflicts).order_by(conflicts.c.declared_at)
        if not self.me.has("admin"):
            query = query.where(conflicts.c.declared_by == self.me.sub)
        async with self.runtime.engine.connect() as conn:
            return [ConflictOut(mentee_id=r.mentee_id, mentor_id=r.mentor_id, declared_by=r.declared_by,
                                declared_at=r.declared_at) for r in (await conn.execute(query)).all()]

    # -- weights and suggestions (admins) --------------------------------------------------------------

    async def _weights(self, conn: AsyncConnection) -> WeightsOut:
        questionnaire = await current(conn)
        w = await programme_weights(conn, questionnaire.questions)
        row = (await conn.execute(sa.select(weights.c.updated_at).where(weights.c.id == 1))).first()
        return WeightsOut(preference=list(w.preference), language=w.language, areas=w.areas,
                          questions=dict(w.questions), updated_at=row.updated_at if row else None)

    async def weights(self) -> WeightsOut:
        async with self.runtime.engine.connect() as conn:
            return await self._weights(conn)

    async def set_weights(self, data: WeightsIn) -> WeightsOut:
        stored = {"preference": data.preference, "language": data.language, "areas": data.areas}
        async with self.runtime.engine.begin() as conn:
            await _upsert(conn, weights, weights.c.id == 1, id=1, weights=json.dumps(stored),
                          updated_by=self.me.sub, updated_at=utcnow())
            await self.audit(conn, "matching.weights", "matching:weights")
            return await self._weights(conn)

    async def suggestions(self, mentee_id: str) -> SuggestionsOut:
        """The best mentors for one mentee, each score's parts, and the mentors excluded and why."""
        async with self.runtime.engine.begin() as conn:
            user = await get_user(conn, mentee_id)
            if user is None or "mentee" not in user.roles:
                raise NotFound("No such mentee.")
            inputs = await gather(conn, self.vault, only_mentee=mentee_id)
            await self.audit(conn, "matching.suggestions", f"user:{mentee_id}")  # answers were read
        mentee = inputs.mentees[0]
        ranked = solver.suggestions(mentee, inputs.mentors, inputs.weights, inputs.exclusions, limit=SUGGESTIONS)
        why = {m.id: solver.why_not(mentee, m, inputs.exclusions) for m in inputs.mentors}
        return SuggestionsOut(
            mentee_id=mentee_id,
            suggestions=[SuggestionOut(mentor_id=mentor_id, total=score.total, parts=parts_out(score))
                         for mentor_id, score in ranked],
            excluded=[ExcludedOut(mentor_id=m, reason=reason) for m, reason in why.items() if reason is not None],
            full=[m.id for m in inputs.mentors if m.capacity == 0 and why[m.id] is None])

