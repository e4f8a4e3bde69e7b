"""Who may call each profile, questionnaire and matching route (issue 17): every operation of the OpenAPI
under those paths is in the table below (a route added without its row fails), called by every role, by a
service identity and without an assertion. Mentees never reach each other's answers or preferences."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.matching import QUESTIONS, answer, ok, programme
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
)

pytestmark = pytest.mark.integration

PREFIXES = ("/profiles", "/questionnaire", "/matching")
MEMBERS = {MENTOR, MENTEE, OTHER_MENTOR, OTHER_MENTEE}
MENTEES = {MENTEE, OTHER_MENTEE}
ADMINS = {ADMIN}
EVERYONE = [MENTOR, MENTEE, OTHER_MENTOR, OTHER_MENTEE, ADMIN, SAFEGUARD, OPERATOR]

# (method, OpenAPI path) -> who may call it; everyone else gets 403.
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("GET", "/profiles/me"): MEMBERS,
    ("PUT", "/profiles/me"): MEMBERS,
    ("GET", "/profiles/mentors"): MEMBERS | ADMINS,
    ("GET", "/profiles/{user_id}"): ADMINS,
    ("GET", "/questionnaire"): MEMBERS | ADMINS,
    ("PUT", "/questionnaire"): ADMINS,
    ("GET", "/questionnaire/answers/me"): MEMBERS,
    ("PUT", "/questionnaire/answers/me"): MEMBERS,
    ("DELETE", "/questionnaire/answers/me/special"): MEMBERS,
    ("GET", "/questionnaire/answers/{user_id}"): ADMINS,
    ("GET", "/matching/preferences/me"): MENTEES,
    ("PUT", "/matching/preferences/me"): MENTEES,
    ("GET", "/matching/preferences/{mentee_id}"): ADMINS,
    ("GET", "/matching/waiting"): ADMINS,
    ("POST", "/matching/conflicts"): MEMBERS | ADMINS,
    ("GET", "/matching/conflicts"): MEMBERS | ADMINS,
    ("GET", "/matching/weights"): ADMINS,
    ("PUT", "/matching/weights"): ADMINS,
    ("GET", "/matching/suggestions/{mentee_id}"): ADMINS,
    ("POST", "/matching/rounds"): ADMINS,
    ("GET", "/matching/rounds"): ADMINS,
    ("GET", "/matching/rounds/{round_id}"): ADMINS,
    ("POST", "/matching/rounds/{round_id}/send"): ADMINS,
    ("POST", "/matching/rounds/{round_id}/discard"): ADMINS,
}


def _operations(api: Api) -> set[tuple[str, str]]:
    schema = api.client.app.openapi_schema.to_schema()
    return {(method.upper(), path) for path, item in schema["paths"].items() if path.startswith(PREFIXES)
            for method in item if method in ("get", "put", "post", "delete", "patch")}


def _body(method: str, path: str, who: str, version: int = 1) -> Any:
    if path == "/profiles/me":
        return {"bio": "b", "capacity": 1} if "mentor" in ROLES[who] else {"bio": "b"}
    if path == "/questionnaire":
        return {"questions": QUESTIONS}
    if path == "/questionnaire/answers/me":
        return {"version": version, "answers": {"specialty": "surgery"}}
    if path == "/matching/preferences/me":
        return {"match_me": True}
    if path == "/matching/conflicts":
        return {"mentee_id": MENTEE, "mentor_id": OTHER_MENTOR} if who == ADMIN else (
            {"mentor_id": OTHER_MENTOR} if "mentee" in ROLES[who] else {"mentee_id": OTHER_MENTEE})
    if path == "/matching/weights":
        return {"preference": [1, 0.5, 0.25], "language": 1, "areas": 1}
    if path.endswith("/send"):
        return {"skip": []}
    return None if method in ("GET", "DELETE") else {}


async def test_every_route_by_every_role(api: Api) -> None:
    assert _operations(api) == set(ALLOWED), "a route without its row in ALLOWED (or a row without a route)"
    await programme(api)
    draft = await ok(await api.req("POST", "/matching/rounds", ADMIN), 201)
    to_discard = await ok(await api.req("POST", "/matching/rounds", ADMIN), 201)
    ids = {"user_id": MENTEE, "mentee_id": MENTEE, "round_id": draft["round_id"]}
    for (method, template), allowed in ALLOWED.items():
        path = template.format(**ids)
        if template.endswith("/discard"):
            path = template.format(**{**ids, "round_id": to_discard["round_id"]})
        version = (await ok(await api.req("GET", "/questionnaire", ADMIN)))["version"]
        for who in EVERYONE:
            r = await api.req(method, path, who, json=_body(method, template, who, version))
            if who in allowed:
                assert r.status_code < 300, (method, template, who, r.status_code, r.text)
            else:
                assert r.status_code == 403, (method, template, who, r.status_code, r.text)
        service = await api.client.request(method, path, headers=api.issuer.headers("svc", ["service"], "sessions"),
                                           json=_body(method, template, ADMIN))
        assert service.status_code == 403, (method, template, "service")
        anonymous = await api.client.request(method, path, json=_body(method, template, ADMIN))
        assert anonymous.status_code == 401, (method, template, "anonymous")


async def test_a_member_reads_only_their_own_answers_and_preferences(api: Api) -> None:
    await ok(await api.req("PUT", "/questionnaire", ADMIN, json={"questions": QUESTIONS}))
    await ok(await answer(api, MENTEE, {"specialty": "midwifery", "identity": ["black"]}, consent=True))
    await ok(await api.req("PUT", "/matching/preferences/me", MENTEE, json={"match_me": True}))
    theirs = await ok(await api.req("GET", "/questionnaire/answers/me", OTHER_MENTEE))
    assert theirs["user_id"] == OTHER_MENTEE and theirs["answers"] == {}
    prefs = await ok(await api.req("GET", "/matching/preferences/me", OTHER_MENTEE))
    assert prefs["mentee_id"] == OTHER_MENTEE and not prefs["match_me"]
    for who in (OTHER_MENTEE, MENTOR, SAFEGUARD, OPERATOR):
        for path in (f"/questionnaire/answers/{MENTEE}", f"/matching/preferences/{MENTEE}",
                     f"/matching/suggestions/{MENTEE}", f"/profiles/{MENTEE}"):
            assert (await api.req("GET", path, who)).status_code == 403, (who, path)
