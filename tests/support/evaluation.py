"""Evaluation test helpers: a survey to publish, extra mentors and mentees who have been in an active pairing
(inserted straight into the pairings table: the users projection only knows the cast), calling the app as
one of them, and reading the evaluation tables and the audit stream as stored."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis

from services.sessions.pairings.tables import pairings
from shared.clock import utcnow
from shared.db import create_engine
from shared.events import decode_envelope
from shared.events import types as t
from tests.support.sessions import ADMIN, Api

SURVEY: dict[str, Any] = {"questions": [
    {"id": "overall", "kind": "scale", "prompt": "How useful was the mentoring overall?"},
    {"id": "format", "kind": "single", "prompt": "How did you mostly meet?",
     "options": [{"id": "video", "label": "Video calls"}, {"id": "in_person", "label": "In person"}]},
    {"id": "topics", "kind": "multiple", "prompt": "What did you talk about?",
     "options": [{"id": "career", "label": "Career"}, {"id": "wellbeing", "label": "Wellbeing"},
                 {"id": "skills", "label": "Clinical skills"}]},
]}


async def publish(api: Api, body: dict[str, Any] | None = None) -> int:
    r = await api.req("PUT", "/evaluation/survey", ADMIN, json=body or SURVEY)
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


async def paired_members(db_url: str, role: str, n: int, state: str = "active") -> list[str]:
    """`n` new people of `role`, each in a pairing in `state` with a partner of their own."""
    ids = [f"u-eval-{role}-{secrets.token_hex(4)}" for _ in range(n)]
    now = utcnow()
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            for uid in ids:
                partner = f"u-partner-{secrets.token_hex(4)}"
                mentor, mentee = (uid, partner) if role == "mentor" else (partner, uid)
                await conn.execute(sa.insert(pairings).values(
                    pairing_id=secrets.token_hex(16), mentor_id=mentor, mentee_id=mentee, state=state,
                    proposed_by=ADMIN, mentor_accepted_at=now, mentee_accepted_at=now, created_at=now,
                    activated_at=now))
    finally:
        await engine.dispose()
    return ids


async def as_person(api: Api, method: str, path: str, sub: str, roles: list[str], **kw: Any) -> Any:
    """A request by someone outside the cast (tests/support/sessions.py ROLES)."""
    return await api.client.request(method, path, headers=api.issuer.headers(sub, roles, "sessions"), **kw)


async def answer(api: Api, sub: str, role: str, version: int, answers: dict[str, Any]) -> Any:
    return await as_person(api, "POST", "/evaluation/responses", sub, [role],
                           json={"version": version, "answers": answers})


def db_of(api: Api) -> str:
    return str(api.client.app.state.settings.database_url)


def problem(r: Any, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers


async def table_rows(db_url: str, table: sa.Table) -> list[Any]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.select(table))).all())
    finally:
        await engine.dispose()


async def audit_entries(redis: Redis) -> list[t.AuditEntry]:
    out = []
    for _id, fields in await redis.xrange("tandem.audit"):
        out.append(decode_envelope(fields[b"envelope"]).payload(t.AuditEntry))
    return out


def counts(result: dict[str, Any], group: str) -> dict[str, dict[str, int]]:
    """A shown group's counts as {question: {option: count}}."""
    found = next(g for g in result["groups"] if g["group"] == group)
    return {q["question_id"]: {c["option"]: c["count"] for c in q["counts"]} for q in found["questions"]}
