"""Check-ins (issue 17, item 5) through the HTTP API on real DB + Redis: the programme's setting, admins'
plans, members answering the due check-in (cadence, overdue, attention), who may read answers, and the
comment never readable in the database, Redis or the logs. Time moves by setting a plan's next due date
in the database, never by waiting."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.sessions.checkins.schemas import AnswerIn
from services.sessions.checkins.service import OFF, RAISE_CONCERN_PATH, needs_attention, next_after
from services.sessions.checkins.tables import answers, plans
from shared.db import create_engine
from shared.events import decode_envelope
from shared.events import types as t
from tests.support.rawdb import database_bytes, redis_bytes
from tests.support.sessions import (
    ADMIN,
    MENTEE,
    MENTOR,
    OPERATOR,
    OTHER_MENTEE,
    OTHER_MENTOR,
    ROLES,
    SAFEGUARD,
    Api,
    wait_for,
)

pytestmark = pytest.mark.integration

EVERYONE = [MENTOR, MENTEE, OTHER_MENTOR, OTHER_MENTEE, ADMIN, SAFEGUARD, OPERATOR]
PROBLEM = "application/problem+json"
FINE = {"progressing": "yes", "uncomfortable": False, "wants_contact": False}


def when(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def enable(api: Api, **kw: Any) -> dict[str, Any]:
    r = await api.req("PUT", "/checkins/settings", ADMIN, json={"enabled": True, **kw})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def plan(api: Api, user_id: str, first_due_at: datetime, **kw: Any) -> dict[str, Any]:
    r = await api.req("POST", "/checkins/plans", ADMIN,
                      json={"user_id": user_id, "first_due_at": first_due_at.isoformat(), **kw})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def set_due(api: Api, user_id: str, due: datetime) -> None:
    """Move a plan's next check-in (the test client runs the app on its own loop: our own engine)."""
    engine = create_engine(api.client.app.state.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.update(plans).where(plans.c.user_id == user_id).values(next_due_at=due))
    finally:
        await engine.dispose()


async def answer(api: Api, who: str, **body: Any) -> dict[str, Any]:
    r = await api.req("POST", "/checkins/me", who, json={**FINE, **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def plans_by_user(api: Api) -> dict[str, dict[str, Any]]:
    r = await api.req("GET", "/checkins/plans", ADMIN)
    assert r.status_code == 200, r.text
    return {p["user_id"]: p for p in r.json()}


async def audited(redis: Redis, count: int) -> list[tuple[str, str, str]]:
    async def entries() -> list[tuple[str, str, str]]:
        out = []
        for _i, fields in await redis.xrange("tandem.audit"):
            entry = decode_envelope(fields[b"envelope"]).payload(t.AuditEntry)
            if entry.action.startswith("checkin"):
                out.append((entry.action, entry.actor, entry.target))
        return out

    async def enough() -> bool:
        return len(await entries()) >= count

    await wait_for(enough)
    return await entries()


def test_what_needs_attention_and_the_cadence() -> None:
    assert not needs_attention(AnswerIn(progressing="yes", uncomfortable=False, wants_contact=False))
    assert not needs_attention(AnswerIn(progressing="partly", uncomfortable=False, wants_contact=False))
    assert needs_attention(AnswerIn(progressing="no", uncomfortable=False, wants_contact=False))
    assert needs_attention(AnswerIn(progressing="yes", uncomfortable=True, wants_contact=False))
    assert needs_attention(AnswerIn(progressing="yes", uncomfortable=False, wants_contact=True))
    due = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert next_after(due, 2, due + timedelta(days=1)) == due + timedelta(weeks=2)
    assert next_after(due, 2, due + timedelta(weeks=2)) == due + timedelta(weeks=4)  # one already fully past
    assert next_after(due, 2, due + timedelta(weeks=5)) == due + timedelta(weeks=6)


async def test_setting_is_off_by_default_and_toggled(api: Api, redis: Redis) -> None:
    for who in (MENTEE, MENTOR, ADMIN):
        r = await api.req("GET", "/checkins/settings", who)
        assert r.status_code == 200 and r.json() == {"enabled": False, "default_every_weeks": 4, "grace_days": 7}
    off = await api.req("POST", "/checkins/plans", ADMIN, json={"user_id": MENTEE, "first_due_at": when().isoformat()})
    assert off.status_code == 409 and off.headers["content-type"].startswith(PROBLEM) and off.json()["detail"] == OFF
    off = await api.req("POST", "/checkins/me", MENTEE, json=FINE)
    assert off.status_code == 409 and off.json()["detail"] == OFF
    assert await enable(api, default_every_weeks=2, grace_days=3) == {
        "enabled": True, "default_every_weeks": 2, "grace_days": 3}
    assert (await api.req("GET", "/checkins/settings", MENTOR)).json()["enabled"] is True
    assert (await plan(api, MENTEE, when(hours=-1)))["every_weeks"] == 2  # the programme's default
    assert (await api.req("GET", "/checkins/me", MENTEE)).json()["due"] is True
    r = await api.req("PUT", "/checkins/settings", ADMIN, json={"enabled": False})
    assert r.json() == {"enabled": False, "default_every_weeks": 4, "grace_days": 7}
    # Off again: reads still work, nothing is due and nothing can be answered or planned.
    me = (await api.req("GET", "/checkins/me", MENTEE)).json()
    assert me["enabled"] is False and me["has_plan"] is True and me["due"] is False
    assert (await plans_by_user(api))[MENTEE]["overdue"] is False
    assert (await api.req("POST", "/checkins/me", MENTEE, json=FINE)).status_code == 409
    assert (await api.req("GET", "/checkins/me/answers", MENTEE)).json() == []
    assert [a[0] for a in await audited(redis, 3)] == [
        "checkins.settings_change", "checkin_plan.create", "checkins.settings_change"]


async def test_plans_are_created_changed_and_stopped(api: Api, redis: Redis) -> None:
    await enable(api)
    first = when(days=3)
    created = await plan(api, MENTEE, first, every_weeks=2)
    assert created["user_id"] == MENTEE and created["every_weeks"] == 2 and ts(created["next_due_at"]) == first
    assert not created["due"] and not created["overdue"] and not created["attention"]
    assert created["last_answered_at"] is None and created["created_by"] == ADMIN
    await plan(api, MENTOR, when(days=10))
    dup = await api.req("POST", "/checkins/plans", ADMIN, json={"user_id": MENTEE, "first_due_at": first.isoformat()})
    assert dup.status_code == 409 and dup.headers["content-type"].startswith(PROBLEM)
    for nobody in ("nobody", ADMIN, SAFEGUARD, OPERATOR):  # only mentors and mentees have check-ins
        r = await api.req("POST", "/checkins/plans", ADMIN, json={"user_id": nobody, "first_due_at": first.isoformat()})
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), (nobody, r.text)
    assert list(await plans_by_user(api)) == [MENTEE, MENTOR]  # the soonest due first
    moved = when(days=20)
    r = await api.req("PUT", f"/checkins/plans/{MENTEE}", ADMIN, json={"every_weeks": 6})
    assert r.status_code == 200 and r.json()["every_weeks"] == 6 and ts(r.json()["next_due_at"]) == first
    r = await api.req("PUT", f"/checkins/plans/{MENTEE}", ADMIN,
                      json={"every_weeks": 1, "next_due_at": moved.isoformat()})
    assert r.json()["every_weeks"] == 1 and ts(r.json()["next_due_at"]) == moved
    assert (await api.req("PUT", f"/checkins/plans/{OTHER_MENTEE}", ADMIN, json={"every_weeks": 1})).status_code == 404
    assert (await api.req("DELETE", f"/checkins/plans/{MENTOR}", ADMIN)).status_code == 204
    gone = await api.req("DELETE", f"/checkins/plans/{MENTOR}", ADMIN)
    assert gone.status_code == 404 and gone.headers["content-type"].startswith(PROBLEM)
    assert list(await plans_by_user(api)) == [MENTEE]
    assert (await api.req("GET", "/checkins/me", MENTOR)).json()["has_plan"] is False
    mentee, mentor = f"checkin-plan:{MENTEE}", f"checkin-plan:{MENTOR}"
    assert await audited(redis, 6) == [
        ("checkins.settings_change", ADMIN, "checkins:settings"),
        ("checkin_plan.create", ADMIN, mentee), ("checkin_plan.create", ADMIN, mentor),
        ("checkin_plan.change", ADMIN, mentee), ("checkin_plan.change", ADMIN, mentee),
        ("checkin_plan.delete", ADMIN, mentor)]


async def test_member_answers_the_due_checkin_and_the_cadence_advances(api: Api, redis: Redis) -> None:
    await enable(api)
    await plan(api, MENTEE, when(days=3), every_weeks=2)
    me = (await api.req("GET", "/checkins/me", MENTEE)).json()
    assert me["has_plan"] and me["every_weeks"] == 2 and not me["due"]
    assert me["raise_concern_path"] == RAISE_CONCERN_PATH == "/#/concern"
    early = await api.req("POST", "/checkins/me", MENTEE, json=FINE)
    assert early.status_code == 409 and early.headers["content-type"].startswith(PROBLEM)
    due = when(hours=-1)
    await set_due(api, MENTEE, due)
    assert (await api.req("GET", "/checkins/me", MENTEE)).json()["due"] is True
    done = await answer(api, MENTEE, progressing="partly", comment="going fine")
    assert ts(done["due_at"]) == due and ts(done["next_due_at"]) == due + timedelta(weeks=2)
    assert done["progressing"] == "partly" and done["comment"] == "going fine"
    me = (await api.req("GET", "/checkins/me", MENTEE)).json()
    assert not me["due"] and ts(me["next_due_at"]) == due + timedelta(weeks=2)
    assert (await api.req("POST", "/checkins/me", MENTEE, json=FINE)).status_code == 409  # answered already
    # Five weeks late on a two-week cadence: the periods already past are skipped.
    late = when(weeks=-5)
    await set_due(api, MENTEE, late)
    done = await answer(api, MENTEE)
    assert ts(done["due_at"]) == late and ts(done["next_due_at"]) == late + timedelta(weeks=6)
    mine = (await api.req("GET", "/checkins/me/answers", MENTEE)).json()
    assert [ts(a["due_at"]) for a in mine] == [late, due] and [a["comment"] for a in mine] == [None, "going fine"]
    listed = (await plans_by_user(api))[MENTEE]
    assert ts(listed["last_answered_at"]) == ts(done["answered_at"]) and not listed["attention"]
    assert (await api.req("POST", "/checkins/me", MENTOR, json=FINE)).status_code == 409  # no plan
    assert [a[0] for a in await audited(redis, 4)][-2:] == ["checkin.answer", "checkin.answer"]


async def test_overdue_is_flagged_after_the_grace_days(api: Api) -> None:
    await enable(api, grace_days=7)
    await plan(api, MENTEE, when(days=3))
    await plan(api, MENTOR, when(days=3))
    await set_due(api, MENTEE, when(days=-10, hours=-1))
    await set_due(api, MENTOR, when(days=-3))
    listed = await plans_by_user(api)
    assert listed[MENTEE]["due"] and listed[MENTEE]["overdue"] and listed[MENTEE]["overdue_days"] == 10
    assert listed[MENTOR]["due"] and not listed[MENTOR]["overdue"] and listed[MENTOR]["overdue_days"] == 0
    await enable(api, grace_days=2)
    assert (await plans_by_user(api))[MENTOR]["overdue"] is True
    await answer(api, MENTEE)
    assert (await plans_by_user(api))[MENTEE]["overdue"] is False


async def test_answers_needing_attention_are_flagged_until_acknowledged(api: Api, redis: Redis) -> None:
    await enable(api)
    await plan(api, MENTEE, when(hours=-1))
    fine = await answer(api, MENTEE)
    assert not (await plans_by_user(api))[MENTEE]["attention"]
    await set_due(api, MENTEE, when(hours=-1))
    worried = await answer(api, MENTEE, progressing="no", uncomfortable=True, wants_contact=True, comment="please call")
    assert (await plans_by_user(api))[MENTEE]["attention"] is True
    listed = (await api.req("GET", f"/checkins/answers/{MENTEE}", ADMIN)).json()
    assert [(a["checkin_id"], a["needs_attention"], a["comment"]) for a in listed] == [
        (fine["checkin_id"], False, None), (worried["checkin_id"], True, "please call")]
    assert listed[1]["acknowledged_at"] is None and listed[1]["user_id"] == MENTEE
    nothing = await api.req("POST", f"/checkins/answers/{fine['checkin_id']}/acknowledge", ADMIN)
    assert nothing.status_code == 409 and nothing.headers["content-type"].startswith(PROBLEM)
    ack = await api.req("POST", f"/checkins/answers/{worried['checkin_id']}/acknowledge", ADMIN)
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == ADMIN and ack.json()["acknowledged_at"]
    assert ack.json()["comment"] == "please call"
    assert (await api.req("POST", f"/checkins/answers/{worried['checkin_id']}/acknowledge", ADMIN)).status_code == 409
    assert (await plans_by_user(api))[MENTEE]["attention"] is False
    for bad in ("0" * 32, "nope"):
        assert (await api.req("POST", f"/checkins/answers/{bad}/acknowledge", ADMIN)).status_code == 404
    assert (await audited(redis, 5))[-1] == ("checkin.acknowledge", ADMIN, f"checkin:{worried['checkin_id']}")
    assert (await api.req("GET", "/checkins/answers/nobody", ADMIN)).json() == []


async def test_bad_input_is_problem_json(api: Api) -> None:
    await enable(api)
    soon = when(days=1).isoformat()
    cases: list[tuple[str, str, Any]] = [
        ("PUT", "/checkins/settings", {"enabled": "yes"}),
        ("PUT", "/checkins/settings", {"enabled": True, "default_every_weeks": 0}),
        ("PUT", "/checkins/settings", {"enabled": True, "default_every_weeks": 27}),
        ("PUT", "/checkins/settings", {"enabled": True, "grace_days": 15}),
        ("PUT", "/checkins/settings", {"enabled": True, "extra": 1}),
        ("PUT", "/checkins/settings", {}),
        ("POST", "/checkins/plans", {"user_id": MENTEE}),
        ("POST", "/checkins/plans", {"user_id": MENTEE, "first_due_at": "tomorrow"}),
        ("POST", "/checkins/plans", {"user_id": MENTEE, "first_due_at": "2030-01-01T09:00:00"}),  # no zone
        ("POST", "/checkins/plans", {"user_id": MENTEE, "first_due_at": when(days=400).isoformat()}),
        ("POST", "/checkins/plans", {"user_id": MENTEE, "first_due_at": when(days=-3).isoformat()}),
        ("POST", "/checkins/plans", {"user_id": MENTEE, "first_due_at": soon, "every_weeks": 27}),
        ("POST", "/checkins/plans", {"user_id": "x" * 500, "first_due_at": soon}),
        ("POST", "/checkins/plans", {"user_id": "bad id!", "first_due_at": soon}),
        ("POST", "/checkins/plans", "not json"),
    ]
    for method, path, body in cases:
        r = await api.req(method, path, ADMIN, json=body)
        assert r.status_code in (400, 422), (body, r.text)
        assert r.headers["content-type"].startswith(PROBLEM), (body, r.text)
    await plan(api, MENTEE, when(hours=-1))
    for body in ({"every_weeks": 0}, {"every_weeks": 2, "next_due_at": when(days=400).isoformat()},
                 {"every_weeks": 2, "next_due_at": "2030-01-01T09:00:00"}, {}):
        r = await api.req("PUT", f"/checkins/plans/{MENTEE}", ADMIN, json=body)
        assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), (body, r.text)
    secret = "y" * 2001
    for body in ({**FINE, "progressing": "maybe"}, {**FINE, "uncomfortable": "no"}, {"progressing": "yes"},
                 {**FINE, "comment": secret}, {**FINE, "comment": 5}, {**FINE, "mood": "ok"}):
        r = await api.req("POST", "/checkins/me", MENTEE, json=body)
        assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), (body, r.text)
        assert "y" * 100 not in r.text
    assert (await api.req("GET", "/checkins/me", MENTEE)).json()["due"] is True  # nothing was answered
    assert (await api.req("GET", "/checkins/answers/bad%20id", ADMIN)).status_code == 400
    assert (await api.req("DELETE", "/checkins/plans/bad%20id", ADMIN)).status_code == 400


async def test_the_comment_is_never_in_clear_outside_its_readers(
        api: Api, redis: Redis, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    secret = f"CHECKIN-CANARY-{secrets.token_hex(8)}"
    pid = await api.active_pairing()
    assert pid
    await enable(api)
    with caplog.at_level(logging.DEBUG):
        await plan(api, MENTEE, when(hours=-1))
        done = await answer(api, MENTEE, uncomfortable=True, comment=f"I feel {secret} in sessions")
        assert secret in (await api.req("GET", f"/checkins/answers/{MENTEE}", ADMIN)).text
        assert secret in (await api.req("GET", "/checkins/me/answers", MENTEE)).text
        assert secret in (await api.req("POST", f"/checkins/answers/{done['checkin_id']}/acknowledge", ADMIN)).text
        for who in EVERYONE:  # the partner (MENTOR) above all
            for path in ("/checkins/me", "/checkins/me/answers", "/checkins/plans", f"/checkins/answers/{MENTEE}",
                         "/checkins/settings"):
                r = await api.req("GET", path, who)
                if who not in (ADMIN, MENTEE) or path not in (f"/checkins/answers/{MENTEE}", "/checkins/me/answers"):
                    assert secret not in r.text, (who, path)
        await audited(redis, 4)
        engine = create_engine(api.client.app.state.settings.database_url)
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(sa.select(answers))).one()
        finally:
            await engine.dispose()
        assert row.kek_version == 1 and row.wrapped_dek and row.sealed
        stored = await database_bytes(api.client.app.state.settings.database_url)
        bus = await redis_bytes(redis)
    out = capsys.readouterr()
    for name, blob in (("database", stored), ("redis", bus), ("logs", (caplog.text + out.out + out.err).encode())):
        assert secret.encode() not in blob, f"the comment is readable in the {name}"
        assert secret.encode("utf-16-le") not in blob, f"the comment is readable in the {name}"


# -- authorization: every route, every role ----------------------------------------------------------------


async def test_authorization_matrix(api: Api) -> None:
    await api.active_pairing()  # MENTOR is MENTEE's partner: they still never read MENTEE's answers
    await enable(api)
    await plan(api, MENTEE, when(hours=-1))
    flagged = (await answer(api, MENTEE, wants_contact=True, comment="partner must not see"))["checkin_id"]
    await set_due(api, MENTEE, when(hours=-1))
    await plan(api, MENTOR, when(days=2))  # planned, nothing due yet
    members = {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 200, OTHER_MENTEE: 200}
    staff = {ADMIN: 403, SAFEGUARD: 403, OPERATOR: 403}
    admin_only = {**dict.fromkeys(EVERYONE, 403), ADMIN: 200}
    expected: dict[tuple[str, str], dict[str, int]] = {
        ("GET", "/checkins/settings"): {**members, **staff, ADMIN: 200},
        ("PUT", "/checkins/settings"): admin_only,
        ("POST", "/checkins/plans"): {**admin_only, ADMIN: 201},
        ("GET", "/checkins/plans"): admin_only,
        ("PUT", f"/checkins/plans/{MENTOR}"): admin_only,
        ("DELETE", f"/checkins/plans/{OTHER_MENTEE}"): {**admin_only, ADMIN: 204},
        ("GET", "/checkins/me"): {**members, **staff},
        ("POST", "/checkins/me"): {MENTOR: 409, MENTEE: 201, OTHER_MENTOR: 409, OTHER_MENTEE: 409, **staff},
        ("GET", "/checkins/me/answers"): {**members, **staff},
        ("GET", f"/checkins/answers/{MENTEE}"): admin_only,
        ("POST", f"/checkins/answers/{flagged}/acknowledge"): admin_only,
    }
    bodies: dict[tuple[str, str], Any] = {
        ("PUT", "/checkins/settings"): {"enabled": True},
        ("POST", "/checkins/plans"): {"user_id": OTHER_MENTEE, "first_due_at": when(days=1).isoformat()},
        ("PUT", f"/checkins/plans/{MENTOR}"): {"every_weeks": 3},
        ("POST", "/checkins/me"): FINE,
    }
    for (method, path), by_role in expected.items():
        body = bodies.get((method, path))
        for who in EVERYONE:
            r = await api.req(method, path, who, json=body)
            assert r.status_code == by_role[who], (method, path, who, r.status_code, r.text)
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith(PROBLEM), (method, path, who)
            if who != ADMIN and not (who == MENTEE and path == "/checkins/me/answers"):
                assert "partner must not see" not in r.text, (method, path, who)
        r = await api.client.request(method, path, headers=api.issuer.headers("svc", ["service"], "sessions"),
                                     json=body)
        assert r.status_code == 403, (method, path, "service", r.text)
        r = await api.client.request(method, path, json=body)
        assert r.status_code == 401, (method, path, "anonymous")
    mine = (await api.req("GET", "/checkins/me/answers", MENTOR)).json()
    assert mine == []  # the partner's own list holds only their own answers
    assert set(ROLES) >= set(EVERYONE)
