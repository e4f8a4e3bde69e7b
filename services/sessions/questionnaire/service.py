"""The matching questionnaire: admins publish versions; members answer; matching reads the answers.

A member's answers are sealed in two parts (questionnaire/tables.py): ordinary answers, and answers to
`special` questions, which are kept only with explicit consent and shredded when it is withdrawn.
Reading a member's answers for matching is an admin's act and is audited (`questionnaire.answers.read`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.vault import DecryptionError, Sealed, Vault
from services.sessions.questionnaire.schemas import AnswersIn, AnswersOut, AnswerValue, Question, QuestionnaireOut
from services.sessions.questionnaire.tables import answers, questionnaires
from shared.clock import utcnow
from shared.http import Conflict, ServiceUnavailable, Unprocessable
from shared.service import AuditedFeature

ORDINARY, SPECIAL = "questionnaire-answers", "questionnaire-special-answers"
EMPTY = QuestionnaireOut(version=0, questions=[], published_at=None)


def subject(user_id: str) -> str:
    return f"answers:{user_id}"


def check_questions(questions: list[Question]) -> None:
    """The rules a schema cannot say: unique ids, options where they belong, weights on choices only."""
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise Unprocessable("Two questions have the same id.", slug="questionnaire-invalid")
    for q in questions:
        option_ids = [o.id for o in q.options]
        if q.kind == "text" and (q.options or q.weight):
            raise Unprocessable(f"Question {q.id}: a free-text question has no options and no weight.",
                                slug="questionnaire-invalid")
        if q.kind != "text" and len(q.options) < 2:
            raise Unprocessable(f"Question {q.id}: a choice needs at least two options.", slug="questionnaire-invalid")
        if len(set(option_ids)) != len(option_ids):
            raise Unprocessable(f"Question {q.id}: two options have the same id.", slug="questionnaire-invalid")


def check_answer(question: Question, value: AnswerValue) -> None:
    options = {o.id for o in question.options}
    if question.kind == "text":
        ok = isinstance(value, str)
    elif question.kind == "single":
        ok = isinstance(value, str) and value in options
    else:
        ok = isinstance(value, list) and len(set(value)) == len(value) and set(value) <= options
    if not ok:
        raise Unprocessable(f"The answer to question {question.id} is not one of its options.",
                            slug="answer-invalid", extra={"question": question.id})


def choice_sets(questions: Iterable[Question], given: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Answers as sets of option ids, for the matching core: choice questions of the current version
    only, options that still exist only (answers to an older version count where they still fit)."""
    out: dict[str, frozenset[str]] = {}
    for q in questions:
        value = given.get(q.id)
        if q.kind == "text" or value is None:
            continue
        chosen = {value} if isinstance(value, str) else set(value)
        out[q.id] = frozenset(chosen & {o.id for o in q.options})
    return out


async def current(conn: AsyncConnection) -> QuestionnaireOut:
    row = (await conn.execute(sa.select(questionnaires).order_by(questionnaires.c.version.desc()).limit(1))).first()
    if row is None:
        return EMPTY
    return QuestionnaireOut(version=row.version, questions=msgspec.json.decode(row.questions, type=list[Question]),
                            published_at=row.published_at)


async def version(conn: AsyncConnection, number: int) -> QuestionnaireOut | None:
    row = (await conn.execute(sa.select(questionnaires).where(questionnaires.c.version == number))).first()
    if row is None:
        return None
    return QuestionnaireOut(version=row.version, questions=msgspec.json.decode(row.questions, type=list[Question]),
                            published_at=row.published_at)


def _sealed(row: Any, prefix: str = "") -> Sealed:
    return Sealed(getattr(row, f"{prefix}kek_version"), getattr(row, f"{prefix}wrapped_dek"),
                  getattr(row, f"{prefix}sealed"))


def open_row(vault: Vault, row: Any) -> dict[str, Any]:
    """Both parts of a member's answers (the special part only while consent stands). Sync."""
    given: dict[str, Any] = dict(vault.open_json(subject(row.user_id), ORDINARY, _sealed(row)))
    if row.special_consent_at is not None:
        given.update(vault.open_json(subject(row.user_id), SPECIAL, _sealed(row, "special_")))
    return given


async def answers_of(conn: AsyncConnection, vault: Vault, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The answers of these members, opened (for matching). A row that does not open counts as no answers."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = (await conn.execute(sa.select(answers).where(answers.c.user_id.in_(ids)))).all()

    def open_all() -> dict[str, dict[str, Any]]:
        out = {}
        for row in rows:
            try:
                out[row.user_id] = open_row(vault, row)
            except DecryptionError:
                continue
        return out

    return await asyncio.to_thread(open_all)


@dataclass(frozen=True)
class Questionnaires(AuditedFeature):
    vault: Vault

    async def current(self) -> QuestionnaireOut:
        async with self.runtime.engine.connect() as conn:
            return await current(conn)

    async def publish(self, questions: list[Question]) -> QuestionnaireOut:
        check_questions(questions)
        async with self.runtime.engine.begin() as conn:
            number = (await current(conn)).version + 1
            await conn.execute(sa.insert(questionnaires).values(
                version=number, questions=msgspec.json.encode(questions).decode(), published_by=self.me.sub,
                published_at=utcnow()))
            await self.audit(conn, "questionnaire.publish", f"questionnaire:{number}")
            return await current(conn)

    async def _out(self, conn: AsyncConnection, user_id: str) -> AnswersOut:
        now_version = (await current(conn)).version
        row = (await conn.execute(sa.select(answers).where(answers.c.user_id == user_id))).first()
        if row is None:
            return AnswersOut(user_id=user_id, version=None, current_version=now_version, answers={},
                              special_consent=False, special_consent_at=None, updated_at=None)
        try:
            given = await asyncio.to_thread(open_row, self.vault, row)
        except DecryptionError:
            raise ServiceUnavailable("These answers cannot be opened at the moment.") from None
        return AnswersOut(user_id=user_id, version=row.version, current_version=now_version, answers=given,
                          special_consent=row.special_consent_at is not None,
                          special_consent_at=row.special_consent_at, updated_at=row.updated_at)

    async def mine(self) -> AnswersOut:
        async with self.runtime.engine.connect() as conn:
            return await self._out(conn, self.me.sub)

    async def of(self, user_id: str) -> AnswersOut:
        """A member's answers, special ones included, for an admin who matches: audited."""
        async with self.runtime.engine.begin() as conn:
            await self.audit(conn, "questionnaire.answers.read", f"user:{user_id}")
            return await self._out(conn, user_id)

    async def answer(self, data: AnswersIn) -> AnswersOut:
        async with self.runtime.engine.begin() as conn:
            now = await current(conn)
            if data.version != now.version or not now.questions:
                raise Conflict("The questionnaire changed; reload it and answer the current version.",
                               extra={"current_version": now.version})
            by_id = {q.id: q for q in now.questions}
            unknown = sorted(set(data.answers) - set(by_id))
            if unknown:
                raise Unprocessable("These are not questions of this questionnaire.", slug="answer-invalid",
                                    extra={"questions": unknown})
            for key, value in data.answers.items():
                check_answer(by_id[key], value)
            special = {k: v for k, v in data.answers.items() if by_id[k].special}
            ordinary = {k: v for k, v in data.answers.items() if not by_id[k].special}
            if special and not data.special_consent:
                raise Unprocessable("Answers to questions about identity are kept only with your explicit "
                                    "consent (special_consent).", slug="special-consent-required")
            await self._store(conn, ordinary, special if data.special_consent else None, utcnow())
            await self.audit(conn, "questionnaire.answer", f"user:{self.me.sub}")
            return await self._out(conn, self.me.sub)

    async def _store(self, conn: AsyncConnection, ordinary: dict[str, Any], special: dict[str, Any] | None,
                     now: datetime) -> None:
        who = subject(self.me.sub)
        sealed = await asyncio.to_thread(self.vault.seal_json, who, ORDINARY, ordinary)
        values: dict[str, Any] = {"version": (await current(conn)).version, "kek_version": sealed.kek_version,
                                  "wrapped_dek": sealed.wrapped_dek, "sealed": sealed.ciphertext, "updated_at": now,
                                  **_special_columns(None), "special_consent_at": None}
        if special is not None:
            part = await asyncio.to_thread(self.vault.seal_json, who, SPECIAL, special)
            values.update(_special_columns(part), special_consent_at=now)
        done = await conn.execute(sa.update(answers).where(answers.c.user_id == self.me.sub).values(**values))
        if not done.rowcount:
            await conn.execute(sa.insert(answers).values(user_id=self.me.sub, **values))

    async def withdraw_special(self) -> AnswersOut:
        """Consent withdrawn: the special answers' key and ciphertext are forgotten (crypto-shredding)."""
        async with self.runtime.engine.begin() as conn:
            await conn.execute(sa.update(answers).where(answers.c.user_id == self.me.sub).values(
                **_special_columns(None), special_consent_at=None, updated_at=utcnow()))
            await self.audit(conn, "questionnaire.special.withdraw", f"user:{self.me.sub}")
            return await self._out(conn, self.me.sub)


def _special_columns(sealed: Sealed | None) -> dict[str, Any]:
    return {"special_kek_version": sealed.kek_version if sealed else None,
            "special_wrapped_dek": sealed.wrapped_dek if sealed else None,
            "special_sealed": sealed.ciphertext if sealed else None}


