"""Evaluation (issue 17, item 6): end-of-relationship reflections and the programme's survey.

- A reflection belongs to one member of one pairing and is read by its author only: not by the partner,
  not by admins (a non-member gets 404, as for the pairing itself). Written while the pairing is active or
  after it ended; sealed under "reflection:{pairing_id}:{author}"; erasing it deletes the row (and with it
  the only copy of its data key).
- The survey: admins publish versions (closed questions only). A mentor or mentee who has been in an
  active pairing answers the current version once. Who answered and what they answered are stored apart
  (tables.py), and admins see the answers only as counts over groups of at least MIN_GROUP respondents
  (aggregate.py), as JSON or CSV (export.py).
- Audit entries carry ids only: never a reflection, never an answer.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.sessions.adapters.db import inbox
from services.sessions.adapters.vault import DecryptionError, Sealed, Vault
from services.sessions.evaluation.aggregate import MIN_GROUP, ROLES, aggregate
from services.sessions.evaluation.export import to_csv
from services.sessions.evaluation.schemas import (
    GroupResult,
    PublishSurvey,
    ReflectionOut,
    ResponseReceipt,
    ResultsOut,
    SubmitResponse,
    SurveyOut,
    SurveyQuestion,
)
from services.sessions.evaluation.survey import check_answers, check_definition
from services.sessions.evaluation.tables import reflections, respondents, responses, surveys
from services.sessions.meetings.agenda import reclaim
from services.sessions.pairings import service as pairing_svc
from services.sessions.pairings.tables import pairings
from shared.clock import aware, utcnow
from shared.db import claim_event
from shared.events import Envelope
from shared.events import types as t
from shared.http import Conflict, Forbidden, NotFound
from shared.logging import get_logger
from shared.service import AuditedFeature

log = get_logger("tandem.sessions.evaluation")
CONSUMER = "sessions.reflections"
REFLECTION = "reflection"
RESPONSE = "survey-response"
# A reflection looks back on a pairing that happened; a survey respondent has been in one.
HAPPENED = ("active", "ended")


def reflection_subject(pairing_id: str, author_id: str) -> str:
    return f"{REFLECTION}:{pairing_id}:{author_id}"


def response_subject(response_id: str) -> str:
    return f"{RESPONSE}:{response_id}"


def _sealed(row: Any) -> Sealed:
    return Sealed(row.kek_version, row.wrapped_dek, row.sealed)


def _columns(sealed: Sealed) -> dict[str, Any]:
    return {"kek_version": sealed.kek_version, "wrapped_dek": sealed.wrapped_dek, "sealed": sealed.ciphertext}


def survey_out(row: Any) -> SurveyOut:
    return SurveyOut(version=row.version, questions=msgspec.json.decode(row.questions, type=list[SurveyQuestion]),
                     published_at=aware(row.published_at))


async def survey_row(conn: AsyncConnection, version: int | None) -> Any:
    """The survey's `version` (None: the current one, the latest published); NotFound when there is none."""
    query = sa.select(surveys)
    query = (query.where(surveys.c.version == version) if version is not None
             else query.order_by(surveys.c.version.desc()).limit(1))
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("No evaluation survey has been published." if version is None else "No such survey version.")
    return row


def open_responses(vault: Vault, rows: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """(role, answers) of every response that opens; one that does not is left out (and counted in a log
    line, never identified: a response's id says nothing, but there is nothing to gain from logging it)."""
    opened: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        try:
            answers = vault.open_json(response_subject(row.response_id), RESPONSE, _sealed(row))
        except DecryptionError:
            answers = None
        if isinstance(answers, dict) and row.role in ROLES:
            opened.append((row.role, answers))
    if len(opened) < len(rows):
        log.warning("evaluation.responses_unreadable", unreadable=len(rows) - len(opened))
    return opened


async def shred_reflections_of(conn: AsyncConnection, user_id: str) -> int:
    done = await conn.execute(sa.delete(reflections).where(reflections.c.author_id == user_id))
    return int(done.rowcount or 0)


async def on_user_event(engine: AsyncEngine, envelope: Envelope) -> None:
    """`user.erasure_requested`: delete the reflections the person wrote (once per event). To be wired into
    the service's `tandem.user` handler (app.py) beside the agendas' erasure."""
    if envelope.type != t.UserErasureRequested.TYPE:
        return
    request = envelope.payload(t.UserErasureRequested)
    async with engine.begin() as conn:
        if not await claim_event(conn, inbox, CONSUMER, envelope.id):
            return
        erased = await shred_reflections_of(conn, request.user_id)
    await reclaim(engine)
    log.info("sessions.reflections_erased", request_id=request.request_id, erased=erased)


@dataclass(frozen=True)
class Evaluation(AuditedFeature):
    """The evaluation routes' work for one caller: each change in one transaction with its audit entry."""

    vault: Vault

    # -- reflections ------------------------------------------------------------------------------------

    async def _membership(self, conn: AsyncConnection, pairing_id: str) -> Any:
        """The pairing, if the caller is one of its two members; anyone else: no such pairing."""
        row = await pairing_svc.load(conn, pairing_id)
        if not pairing_svc.is_member(row, self.me):
            raise NotFound("No such pairing.")
        return row

    def _mine(self, pairing_id: str) -> Any:
        return sa.and_(reflections.c.pairing_id == pairing_id, reflections.c.author_id == self.me.sub)

    async def reflection(self, pairing_id: str) -> ReflectionOut:
        """The caller's own reflection on the pairing (empty when they wrote none)."""
        async with self.runtime.engine.connect() as conn:
            await self._membership(conn, pairing_id)
            row = (await conn.execute(sa.select(reflections).where(self._mine(pairing_id)))).first()
        if row is None:
            return ReflectionOut(pairing_id=pairing_id)
        subject = reflection_subject(pairing_id, self.me.sub)
        try:
            text = await asyncio.to_thread(self.vault.open_json, subject, REFLECTION, _sealed(row))
        except DecryptionError:
            text = None
        if not isinstance(text, str):
            log.warning("evaluation.reflection_unreadable", pairing_id=pairing_id)
            return ReflectionOut(pairing_id=pairing_id)
        return ReflectionOut(pairing_id=pairing_id, text=text, updated_at=aware(row.updated_at))

    async def write_reflection(self, pairing_id: str, text: str) -> ReflectionOut:
        now = utcnow()
        try:
            async with self.runtime.engine.begin() as conn:
                row = await self._membership(conn, pairing_id)
                if row.state not in HAPPENED:
                    raise Conflict(f"A reflection is written on an active or ended pairing (this one is {row.state}).")
                sealed = await asyncio.to_thread(self.vault.seal_json, reflection_subject(pairing_id, self.me.sub),
                                                 REFLECTION, text)
                values = {**_columns(sealed), "updated_at": now}
                done = await conn.execute(sa.update(reflections).where(self._mine(pairing_id)).values(**values))
                if not done.rowcount:
                    await conn.execute(sa.insert(reflections).values(pairing_id=pairing_id, author_id=self.me.sub,
                                                                     **values))
                await self.audit(conn, "evaluation.reflection_write", f"pairing:{pairing_id}")
        except sa.exc.IntegrityError:
            raise Conflict("Your reflection changed meanwhile; reload and retry.") from None
        return ReflectionOut(pairing_id=pairing_id, text=text, updated_at=now)

    async def erase_reflection(self, pairing_id: str) -> None:
        """Deletes the caller's reflection (its data key with it); erasing none is no error."""
        async with self.runtime.engine.begin() as conn:
            await self._membership(conn, pairing_id)
            erased = bool((await conn.execute(sa.delete(reflections).where(self._mine(pairing_id)))).rowcount)
            if erased:
                await self.audit(conn, "evaluation.reflection_erase", f"pairing:{pairing_id}")
        if erased:
            await reclaim(self.runtime.engine)  # SQLite: the deleted key's page images leave the WAL now

    # -- the survey -------------------------------------------------------------------------------------

    async def publish(self, data: PublishSurvey) -> SurveyOut:
        """A new version of the survey, which becomes the current one."""
        check_definition(data.questions)
        now = utcnow()
        try:
            async with self.runtime.engine.begin() as conn:
                latest = (await conn.execute(sa.select(sa.func.max(surveys.c.version)))).scalar()
                version = int(latest or 0) + 1
                await conn.execute(sa.insert(surveys).values(
                    version=version, questions=msgspec.json.encode(data.questions).decode(),
                    published_by=self.me.sub, published_at=now))
                await self.audit(conn, "evaluation.survey_publish", f"survey:{version}")
        except sa.exc.IntegrityError:
            raise Conflict("Another version was published meanwhile; reload and retry.") from None
        return SurveyOut(version=version, questions=data.questions, published_at=now)

    async def current_survey(self) -> SurveyOut:
        async with self.runtime.engine.connect() as conn:
            out = survey_out(await survey_row(conn, None))
            if not (self.me.has("mentor") or self.me.has("mentee")):
                return out
            try:
                await self._respondent_role(conn)
                eligible = True
            except Forbidden:
                eligible = False
            answered = (await conn.execute(sa.select(respondents.c.user_id).where(
                respondents.c.user_id == self.me.sub, respondents.c.version == out.version))).first() is not None
        return msgspec.structs.replace(out, eligible=eligible, answered=answered)

    async def _respondent_role(self, conn: AsyncConnection) -> str:
        """The caller's role in the survey: mentor if they have been the mentor of an active pairing, else
        mentee if they have been its mentee; anyone else may not answer."""
        for role, column in (("mentor", pairings.c.mentor_id), ("mentee", pairings.c.mentee_id)):
            if self.me.has(role) and (await conn.execute(sa.select(pairings.c.pairing_id).where(
                    column == self.me.sub, pairings.c.state.in_(HAPPENED)).limit(1))).first():
                return role
        raise Forbidden("The evaluation survey is for mentors and mentees who have been in an active pairing.",
                        slug="survey-not-eligible")

    async def submit(self, data: SubmitResponse) -> ResponseReceipt:
        """Stores who answered (user, version, day) and what was answered (random id, version, role,
        sealed answers) as two rows with nothing to join them on."""
        response_id = secrets.token_hex(16)
        try:
            async with self.runtime.engine.begin() as conn:
                role = await self._respondent_role(conn)
                current = await survey_row(conn, None)
                if data.version != current.version:
                    await survey_row(conn, data.version)  # 404 for a version that never was
                    raise Conflict(f"Version {data.version} of the survey has been replaced; answer the current one.",
                                   slug="survey-outdated", extra={"current_version": current.version})
                answered = (await conn.execute(sa.select(respondents.c.user_id).where(
                    respondents.c.user_id == self.me.sub, respondents.c.version == data.version))).first()
                if answered:
                    raise Conflict("You have already answered this version of the survey.", slug="already-answered")
                answers = check_answers(survey_out(current).questions, data.answers)
                sealed = await asyncio.to_thread(self.vault.seal_json, response_subject(response_id), RESPONSE,
                                                 answers)
                await conn.execute(sa.insert(respondents).values(user_id=self.me.sub, version=data.version,
                                                                 responded_on=utcnow().date()))
                await conn.execute(sa.insert(responses).values(response_id=response_id, version=data.version,
                                                               role=role, **_columns(sealed)))
                await self.audit(conn, "evaluation.response_submit", f"survey:{data.version}")
        except sa.exc.IntegrityError:
            raise Conflict("You have already answered this version of the survey.", slug="already-answered") from None
        return ResponseReceipt(version=data.version)

    # -- results ----------------------------------------------------------------------------------------

    async def _aggregates(self, version: int | None, by_role: bool, action: str) -> tuple[SurveyOut, list[GroupResult]]:
        async with self.runtime.engine.connect() as conn:
            survey = survey_out(await survey_row(conn, version))
            rows = (await conn.execute(sa.select(responses).where(responses.c.version == survey.version))).all()
        opened = await asyncio.to_thread(open_responses, self.vault, list(rows)) if rows else []
        groups = aggregate(survey.questions, opened, by_role=by_role)
        async with self.runtime.engine.begin() as conn:
            await self.audit(conn, action, f"survey:{survey.version}")
        return survey, groups

    async def results(self, version: int | None, by: str) -> ResultsOut:
        survey, groups = await self._aggregates(version, by == "role", "evaluation.results_read")
        return ResultsOut(version=survey.version, min_group=MIN_GROUP, by=by, groups=groups)

    async def results_csv(self, version: int | None, by: str) -> tuple[int, str]:
        """(version, CSV text)."""
        survey, groups = await self._aggregates(version, by == "role", "evaluation.results_export")
        return survey.version, to_csv(survey.version, survey.questions, groups)

