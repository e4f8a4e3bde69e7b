"""Evaluation (issue 17, item 6) through the HTTP API on real DB + Redis: reflections private to their
author, the survey's versions, answers stored apart from who gave them, results in aggregate only (with
small groups suppressed) as JSON and CSV, audit entries with ids only, and who may call what."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from redis.asyncio import Redis

from services.sessions.adapters.db import metadata
from services.sessions.adapters.vault import DecryptionError, Sealed, Vault
from services.sessions.evaluation.service import on_user_event, reflection_subject
from services.sessions.evaluation.tables import reflections, respondents, responses
from shared.crypto import LocalKeyring
from shared.db import create_engine
from shared.events import new_envelope
from shared.events import types as t
from tests.support.evaluation import (
    SURVEY,
    answer,
    as_person,
    audit_entries,
    counts,
    db_of,
    paired_members,
    problem,
    publish,
    table_rows,
)
from tests.support.rawdb import database_bytes, redis_bytes
from tests.support.sessions import (
    ADMIN,
    MENTEE,
    MENTOR,
    OPERATOR,
    OTHER_MENTEE,
    OTHER_MENTOR,
    SAFEGUARD,
    Api,
    wait_for,
)

pytestmark = pytest.mark.integration

EVERYONE = [MENTOR, MENTEE, OTHER_MENTOR, OTHER_MENTEE, ADMIN, SAFEGUARD, OPERATOR]
ANSWERS = {"overall": 4, "format": "video", "topics": ["career", "skills"]}


# -- reflections ----------------------------------------------------------------------------------------------


async def test_a_reflection_is_read_by_its_author_only(api: Api) -> None:
    pid = await api.active_pairing()
    path = f"/pairings/{pid}/reflection"
    empty = await api.req("GET", path, MENTOR)
    assert empty.status_code == 200 and empty.json() == {"pairing_id": pid, "text": None, "updated_at": None}
    r = await api.req("PUT", path, MENTEE, json={"text": "What the mentee learnt"})
    assert r.status_code == 200 and r.json()["text"] == "What the mentee learnt" and r.json()["updated_at"]
    # The partner reads only their own (none yet), then writes theirs: each keeps their own.
    assert (await api.req("GET", path, MENTOR)).json()["text"] is None
    assert (await api.req("PUT", path, MENTOR, json={"text": "What the mentor saw"})).status_code == 200
    assert (await api.req("GET", path, MENTEE)).json()["text"] == "What the mentee learnt"
    assert (await api.req("GET", path, MENTOR)).json()["text"] == "What the mentor saw"
    assert (await api.req("PUT", path, MENTEE, json={"text": "Rewritten"})).json()["text"] == "Rewritten"
    for outsider in (OTHER_MENTOR, OTHER_MENTEE):  # no existence oracle
        for method, body in (("GET", None), ("PUT", {"text": "x"}), ("DELETE", None)):
            problem(await api.req(method, path, outsider, json=body), 404)
    for staff in (ADMIN, SAFEGUARD, OPERATOR):
        for method, body in (("GET", None), ("PUT", {"text": "x"}), ("DELETE", None)):
            r = await api.req(method, path, staff, json=body)
            problem(r, 403)
            assert "Rewritten" not in r.text
    problem(await api.req("GET", "/pairings/nope/reflection", MENTEE), 404)
    # Erasing one's own: the row is gone, the partner's stays.
    assert (await api.req("DELETE", path, MENTEE)).status_code == 204
    assert (await api.req("DELETE", path, MENTEE)).status_code == 204
    assert (await api.req("GET", path, MENTEE)).json()["text"] is None
    assert (await api.req("GET", path, MENTOR)).json()["text"] == "What the mentor saw"
    assert [(row.pairing_id, row.author_id) for row in await table_rows(db_of(api), reflections)] == [(pid, MENTOR)]


async def test_reflections_follow_the_pairings_state(api: Api) -> None:
    pid = await api.active_pairing()
    assert (await api.req("POST", f"/pairings/{pid}/end", MENTOR)).status_code == 200
    r = await api.req("PUT", f"/pairings/{pid}/reflection", MENTEE, json={"text": "Looking back"})
    assert r.status_code == 200, r.text  # end of relationship: the usual moment
    proposed = (await api.req("POST", "/pairings", ADMIN,
                              json={"mentor_id": OTHER_MENTOR, "mentee_id": MENTEE})).json()["pairing_id"]
    problem(await api.req("PUT", f"/pairings/{proposed}/reflection", MENTEE, json={"text": "Too early"}), 409)
    assert (await api.req("POST", f"/pairings/{proposed}/decline", MENTEE)).status_code == 200
    problem(await api.req("PUT", f"/pairings/{proposed}/reflection", OTHER_MENTOR, json={"text": "No"}), 409)
    for body in ({"text": ""}, {"text": "x" * 10001}, {"text": 5}, {"text": "ok", "extra": 1}, {}):
        r = await api.req("PUT", f"/pairings/{pid}/reflection", MENTEE, json=body)
        problem(r, 400)
        assert "x" * 100 not in r.text


async def test_a_reflection_is_sealed_bound_and_never_logged(api: Api, redis: Redis, caplog: pytest.LogCaptureFixture,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    secret = f"REFLECTION-CANARY-{secrets.token_hex(8)}"
    with caplog.at_level(logging.DEBUG):
        pid = await api.active_pairing()
        path = f"/pairings/{pid}/reflection"
        assert (await api.req("PUT", path, MENTOR, json={"text": f"I noticed {secret}"})).status_code == 200
        assert secret in (await api.req("GET", path, MENTOR)).json()["text"]
        assert (await api.req("PUT", path, MENTEE, json={"text": "the mentee's own"})).status_code == 200

        async def audited() -> bool:
            return len([e for e in await audit_entries(redis) if e.action.startswith("evaluation.")]) >= 2

        await wait_for(audited)
        stored, bus = await database_bytes(db_of(api)), await redis_bytes(redis)
    out = capsys.readouterr()
    for name, blob in (("database", stored), ("redis and the audit", bus),
                       ("logs", (caplog.text + out.out + out.err).encode())):
        assert secret.encode() not in blob, f"the reflection is readable in the {name}"
    writes = [e for e in await audit_entries(redis) if e.action == "evaluation.reflection_write"]
    assert {(e.actor, e.target) for e in writes} == {(MENTOR, f"pairing:{pid}"), (MENTEE, f"pairing:{pid}")}
    # Bound to its author: the mentor's sealed reflection copied onto the mentee's row does not open.
    rows = {row.author_id: row for row in await table_rows(db_of(api), reflections)}
    keyring = LocalKeyring(Path(api.client.app.state.settings.keyring_path))
    mine = Sealed(rows[MENTOR].kek_version, rows[MENTOR].wrapped_dek, rows[MENTOR].sealed)
    assert secret in Vault(keyring).open_json(reflection_subject(pid, MENTOR), "reflection", mine)
    with pytest.raises(DecryptionError):
        Vault(keyring).open_json(reflection_subject(pid, MENTEE), "reflection", mine)
    engine = create_engine(db_of(api))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.update(reflections).where(reflections.c.author_id == MENTEE).values(
                kek_version=mine.kek_version, wrapped_dek=mine.wrapped_dek, sealed=mine.ciphertext))
    finally:
        await engine.dispose()
    with caplog.at_level(logging.DEBUG):
        r = await api.req("GET", path, MENTEE)
    assert r.status_code == 200 and r.json()["text"] is None and secret not in r.text
    # Erased: the only copy of its wrapped data key leaves the database (SQLite: secure_delete and the WAL
    # truncated; PostgreSQL keeps dead row versions until vacuum, as for agendas).
    for who in (MENTOR, MENTEE):  # (the mentee's row holds a copy of the mentor's since the swap above)
        assert (await api.req("DELETE", path, who)).status_code == 204
    if db_of(api).startswith("sqlite"):
        assert mine.wrapped_dek not in await database_bytes(db_of(api))


async def test_a_persons_erasure_deletes_their_reflections(api: Api) -> None:
    pid = await api.active_pairing()
    for who in (MENTOR, MENTEE):
        assert (await api.req("PUT", f"/pairings/{pid}/reflection", who, json={"text": who})).status_code == 200
    engine = create_engine(db_of(api))
    envelope = new_envelope(t.UserErasureRequested(user_id=MENTEE, request_id="er-1"), source="gateway")
    try:
        for _ in range(2):  # a redelivery changes nothing
            await on_user_event(engine, envelope)
        await on_user_event(engine, new_envelope(t.UserSuspended(user_id=MENTOR), source="gateway"))
    finally:
        await engine.dispose()
    assert [row.author_id for row in await table_rows(db_of(api), reflections)] == [MENTOR]


async def test_migration_0007_matches_the_tables(api: Api) -> None:
    def differences(conn: Any) -> list[str]:
        found = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        return [str(d) for d in found if "evaluation_" in str(d)]

    engine = create_engine(db_of(api))
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(differences) == []
            if engine.dialect.name == "sqlite":  # no insertion order kept beside who answered and what
                ddl = dict((await conn.exec_driver_sql("SELECT name, sql FROM sqlite_master")).all())
                assert all("WITHOUT ROWID" in ddl[f"evaluation_{name}"] for name in ("respondents", "responses"))
    finally:
        await engine.dispose()


# -- the survey -----------------------------------------------------------------------------------------------


async def test_admins_publish_versions_members_read_the_current_one(api: Api) -> None:
    for who in (MENTOR, MENTEE, ADMIN):
        problem(await api.req("GET", "/evaluation/survey", who), 404)
    assert await publish(api) == 1
    for who in (MENTOR, MENTEE, ADMIN):
        r = await api.req("GET", "/evaluation/survey", who)
        assert r.status_code == 200 and r.json()["version"] == 1
        assert r.json()["questions"] == SURVEY["questions"]
    second = {"questions": [{"id": "overall", "kind": "scale", "prompt": "Overall?"}]}
    assert await publish(api, second) == 2
    assert (await api.req("GET", "/evaluation/survey", MENTEE)).json()["questions"] == second["questions"]


@pytest.mark.parametrize(("questions", "status"), [
    ([{"id": "story", "kind": "text", "prompt": "Tell us"}], 400),  # no free text
    ([{"id": "Bad-Id", "kind": "scale", "prompt": "x"}], 400),
    ([{"id": "q", "kind": "scale", "prompt": "x" * 501}], 400),
    ([{"id": f"q{i}", "kind": "scale", "prompt": "x"} for i in range(31)], 400),
    ([], 400),
    ([{"id": "q", "kind": "single", "prompt": "x",
       "options": [{"id": f"o{i}", "label": "l"} for i in range(13)]}], 400),
    ([{"id": "q", "kind": "scale", "prompt": "x"}, {"id": "q", "kind": "scale", "prompt": "y"}], 422),
    ([{"id": "q", "kind": "single", "prompt": "x", "options": [{"id": "a", "label": "only one"}]}], 422),
    ([{"id": "q", "kind": "multiple", "prompt": "x"}], 422),
    ([{"id": "q", "kind": "scale", "prompt": "x", "options": [{"id": "a", "label": "1"}, {"id": "b", "label": "2"}]}],
     422),
])
async def test_a_bad_survey_is_refused(api: Api, questions: list[dict[str, Any]], status: int) -> None:
    problem(await api.req("PUT", "/evaluation/survey", ADMIN, json={"questions": questions}), status)
    problem(await api.req("GET", "/evaluation/survey", MENTEE), 404)


# -- answers --------------------------------------------------------------------------------------------------


async def test_answers_are_checked_and_given_once_per_version(api: Api) -> None:
    pid = await api.active_pairing()
    version = await publish(api)
    send = {"version": version, "answers": ANSWERS}
    for bad in ({"overall": 9}, {"format": "phone"}, {"topics": []}, {"topics": "career"}, {"unknown": 1},
                {"overall": "SECRET-ANSWER"}):
        r = await api.req("POST", "/evaluation/responses", MENTEE, json={"version": version, "answers": bad})
        problem(r, 422)
        assert "SECRET-ANSWER" not in r.text
    for body in ({"version": version, "answers": {}}, {"version": 0, "answers": ANSWERS}, {"answers": ANSWERS},
                 {"version": version, "answers": {"overall": {"x": 1}}}, {**send, "who": MENTEE}):
        problem(await api.req("POST", "/evaluation/responses", MENTEE, json=body), 400)
    problem(await api.req("POST", "/evaluation/responses", MENTEE, json={**send, "version": 99}), 404)
    before = (await api.req("GET", "/evaluation/survey", MENTEE)).json()
    assert (before["eligible"], before["answered"]) == (True, False)
    r = await api.req("POST", "/evaluation/responses", MENTEE, json=send)
    assert r.status_code == 201 and r.json() == {"version": version}
    after = (await api.req("GET", "/evaluation/survey", MENTEE)).json()
    assert (after["eligible"], after["answered"]) == (True, True)
    never = (await api.req("GET", "/evaluation/survey", OTHER_MENTEE)).json()
    assert (never["eligible"], never["answered"]) == (False, False)
    staff = (await api.req("GET", "/evaluation/survey", ADMIN)).json()
    assert staff["eligible"] is None and staff["answered"] is None
    again = await api.req("POST", "/evaluation/responses", MENTEE, json={**send, "answers": {"overall": 1}})
    problem(again, 409)
    # Someone never paired, and someone whose only pairing is a proposal, may not answer.
    problem(await api.req("POST", "/evaluation/responses", OTHER_MENTEE, json=send), 403)
    await api.req("POST", "/pairings", ADMIN, json={"mentor_id": OTHER_MENTOR, "mentee_id": OTHER_MENTEE})
    problem(await api.req("POST", "/evaluation/responses", OTHER_MENTOR, json=send), 403)
    # An ended pairing still counts; a newer version replaces the older one.
    assert (await api.req("POST", f"/pairings/{pid}/end", MENTEE)).status_code == 200
    v2 = await publish(api)
    stale = await api.req("POST", "/evaluation/responses", MENTOR, json=send)
    problem(stale, 409)
    assert stale.json()["current_version"] == v2
    assert (await api.req("POST", "/evaluation/responses", MENTOR, json={**send, "version": v2})).status_code == 201
    assert (await api.req("POST", "/evaluation/responses", MENTEE, json={**send, "version": v2})).status_code == 201
    # Who answered and what was answered: two tables with nothing to join them on.
    who = sorted((row.user_id, row.version) for row in await table_rows(db_of(api), respondents))
    assert who == sorted([(MENTEE, version), (MENTOR, v2), (MENTEE, v2)])
    stored = await table_rows(db_of(api), responses)
    assert sorted((row.version, row.role) for row in stored) == [(version, "mentee"), (v2, "mentee"), (v2, "mentor")]
    assert set(stored[0]._fields) == {"response_id", "version", "role", "kek_version", "wrapped_dek", "sealed"}
    assert set((await table_rows(db_of(api), respondents))[0]._fields) == {"user_id", "version", "responded_on"}


async def test_answering_twice_at_once_stores_one_answer(api: Api) -> None:
    await api.active_pairing()
    version = await publish(api)
    results = await asyncio.gather(*(api.req("POST", "/evaluation/responses", MENTEE,
                                             json={"version": version, "answers": ANSWERS}) for _ in range(4)))
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409], [r.text for r in results]
    assert len(await table_rows(db_of(api), responses)) == 1


# -- results --------------------------------------------------------------------------------------------------

MENTOR_ANSWERS = {"overall": 5, "format": "video", "topics": ["career"]}
MENTEE_ANSWERS = {"overall": 2, "format": "in_person", "topics": ["wellbeing", "skills"]}


async def _answer_as(api: Api, role: str, n: int, version: int, answers: dict[str, Any]) -> None:
    for uid in await paired_members(db_of(api), role, n):
        r = await answer(api, uid, role, version, answers)
        assert r.status_code == 201, r.text


async def _results(api: Api, query: str = "") -> dict[str, dict[str, Any]]:
    r = await api.req("GET", f"/evaluation/results{query}", ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["min_group"] == 5
    return {g["group"]: g for g in r.json()["groups"]}


async def test_results_show_no_group_under_five(api: Api, redis: Redis) -> None:
    problem(await api.req("GET", "/evaluation/results", ADMIN), 404)
    version = await publish(api)
    await _answer_as(api, "mentor", 4, version, MENTOR_ANSWERS)
    assert await _results(api) == {"all": {"group": "all", "suppressed": True}}
    assert all(g == {"group": g["group"], "suppressed": True} for g in (await _results(api, "?by=role")).values())
    await _answer_as(api, "mentor", 3, version, MENTOR_ANSWERS)
    await _answer_as(api, "mentee", 2, version, MENTEE_ANSWERS)
    await _answer_as(api, "mentee", 1, version, {"overall": 2})  # skipped two questions: still a respondent
    split = await _results(api, f"?version={version}&by=role")
    assert split["all"]["respondents"] == 10 and not split["all"]["suppressed"]
    # 3 mentees: suppressed, and so are the 7 mentors (all - mentors would be the mentees).
    assert split["mentee"] == {"group": "mentee", "suppressed": True}
    assert split["mentor"] == {"group": "mentor", "suppressed": True}
    assert counts({"groups": [split["all"]]}, "all") == {
        "overall": {"1": 0, "2": 3, "3": 0, "4": 0, "5": 7}, "format": {"video": 7, "in_person": 2},
        "topics": {"career": 7, "wellbeing": 2, "skills": 2}}
    await _answer_as(api, "mentee", 2, version, MENTEE_ANSWERS)
    body = (await api.req("GET", "/evaluation/results?by=role", ADMIN)).json()
    assert body["version"] == version and body["by"] == "role"
    assert [(g["group"], g["respondents"]) for g in body["groups"]] == [("all", 12), ("mentor", 7), ("mentee", 5)]
    assert counts(body, "mentee") == {"overall": {"1": 0, "2": 5, "3": 0, "4": 0, "5": 0},
                                      "format": {"video": 0, "in_person": 4},
                                      "topics": {"career": 0, "wellbeing": 4, "skills": 4}}
    assert counts(body, "mentor")["overall"]["5"] == 7
    for bad in ("?by=gender", "?version=0", "?version=x", f"?version={2**40}"):
        problem(await api.req("GET", f"/evaluation/results{bad}", ADMIN), 400)
    problem(await api.req("GET", "/evaluation/results?version=7", ADMIN), 404)

    async def audited() -> bool:
        return sum(e.action == "evaluation.results_read" for e in await audit_entries(redis)) >= 4  # 4 reads answered

    await wait_for(audited)
    entries = [(e.action, e.actor, e.target) for e in await audit_entries(redis) if e.action.startswith("evaluation.")]
    assert entries[0] == ("evaluation.survey_publish", ADMIN, f"survey:{version}")
    submits = [e for e in entries if e[0] == "evaluation.response_submit"]
    assert len(submits) == 12 and {e[2] for e in submits} == {f"survey:{version}"}
    assert {e[1:] for e in entries if e[0] == "evaluation.results_read"} == {(ADMIN, f"survey:{version}")}


async def test_results_export_as_csv_without_formulas(api: Api, redis: Redis) -> None:
    dangerous = ["=HYPERLINK(\"http://evil\")", "+SUM(1)", "-2+3", "@cmd", "\tTab", "\rReturn"]
    version = await publish(api, {"questions": [
        {"id": "how", "kind": "single", "prompt": dangerous[0],
         "options": [{"id": f"o{i}", "label": label} for i, label in enumerate(dangerous)]},
        {"id": "overall", "kind": "scale", "prompt": "Plain prompt"}]})
    await _answer_as(api, "mentee", 5, version, {"how": "o3", "overall": 4})
    await _answer_as(api, "mentor", 1, version, {"how": "o0"})
    r = await api.req("GET", f"/evaluation/results.csv?version={version}&by=role", ADMIN)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == f'attachment; filename="evaluation-survey-v{version}.csv"'
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    assert rows[0] == ["version", "group", "suppressed", "respondents", "question_id", "question_prompt", "kind",
                       "option", "option_label", "count"]
    for row in rows[1:]:
        assert all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in row), row
    shown = [row for row in rows[1:] if row[1] == "all"]
    assert len(shown) == 6 + 5 and {row[3] for row in shown} == {"6"}
    labels = {row[7]: (row[8], row[9]) for row in shown if row[4] == "how"}
    assert labels["o0"] == ("'" + dangerous[0], "1") and labels["o3"] == ("'@cmd", "5")
    assert labels["o5"] == ("'\rReturn", "0") and shown[0][5] == "'" + dangerous[0]
    assert [row[1:4] for row in rows[1:] if row[1] != "all"] == [["mentor", "true", ""], ["mentee", "true", ""]]
    problem(await api.req("GET", "/evaluation/results.csv?version=9", ADMIN), 404)

    async def exported() -> bool:
        return any(e.action == "evaluation.results_export" for e in await audit_entries(redis))

    await wait_for(exported)


# -- authorization: every route, every role ---------------------------------------------------------------------


async def test_authorization_matrix(api: Api) -> None:
    pid = await api.active_pairing()
    refl = f"/pairings/{pid}/reflection"
    members = {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 404, OTHER_MENTEE: 404, ADMIN: 403, SAFEGUARD: 403,
               OPERATOR: 403}
    admin_only = {who: 200 if who == ADMIN else 403 for who in EVERYONE}
    expected: list[tuple[str, str, Any, dict[str, int]]] = [
        ("PUT", "/evaluation/survey", SURVEY, {**admin_only}),
        ("GET", "/evaluation/survey", None, {**dict.fromkeys(EVERYONE, 200), SAFEGUARD: 403, OPERATOR: 403}),
        # Other mentors and mentees may call it but have had no pairing: the service refuses them.
        ("POST", "/evaluation/responses", {"version": 1, "answers": ANSWERS},
         {**dict.fromkeys(EVERYONE, 403), MENTOR: 201, MENTEE: 201}),
        ("GET", "/evaluation/results", None, admin_only),
        ("GET", "/evaluation/results.csv?by=role", None, admin_only),
        ("PUT", refl, {"text": "mine"}, members),
        ("GET", refl, None, members),
        ("DELETE", refl, None, {**members, MENTOR: 204, MENTEE: 204}),
    ]
    for method, path, body, by_role in expected:
        for who in EVERYONE:
            r = await api.req(method, path, who, json=body)
            assert r.status_code == by_role[who], (method, path, who, r.status_code, r.text)
        r = await as_person(api, method, path, "svc", ["service"], json=body)
        assert r.status_code == 403, (method, path, "service", r.status_code)
        r = await api.client.request(method, path, json=body)
        assert r.status_code == 401, (method, path, "anonymous", r.status_code)
