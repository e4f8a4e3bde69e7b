"""Programme resources (issue 17, item 8): admins publish guides and templates; every member reads them."""

from __future__ import annotations

import pytest

from tests.support.matching import ok
from tests.support.sessions import ADMIN, MENTEE, MENTOR, OPERATOR, OTHER_MENTEE, SAFEGUARD, Api

pytestmark = pytest.mark.integration

GUIDE = {"kind": "guide", "title": "Mentoring guide", "summary": "How the programme works.",
         "body": "Meet monthly.\n\nSet goals together.", "language": "en", "position": 1}
TEMPLATE = {"kind": "template", "title": "Modèle d'entente", "url": "https://example.org/entente.pdf",
            "language": "fr", "position": 0}


async def test_admins_publish_change_and_withdraw_members_read(api: Api) -> None:
    guide = await ok(await api.req("POST", "/resources", ADMIN, json=GUIDE), 201)
    template = await ok(await api.req("POST", "/resources", ADMIN, json=TEMPLATE), 201)
    for who in (MENTEE, MENTOR, SAFEGUARD, ADMIN):
        listed = await ok(await api.req("GET", "/resources", who))
        assert [r["title"] for r in listed] == ["Modèle d'entente", "Mentoring guide"], who
    changed = await ok(await api.req("PUT", f"/resources/{guide['resource_id']}", ADMIN,
                                     json={**GUIDE, "title": "Mentoring guide (2027)"}))
    assert changed["title"] == "Mentoring guide (2027)" and changed["body"] == GUIDE["body"]
    assert (await api.req("DELETE", f"/resources/{template['resource_id']}", ADMIN)).status_code == 204
    assert [r["title"] for r in await ok(await api.req("GET", "/resources", MENTEE))] == ["Mentoring guide (2027)"]
    assert (await api.req("DELETE", f"/resources/{template['resource_id']}", ADMIN)).status_code == 404


async def test_bad_resources_are_refused_with_a_reason(api: Api) -> None:
    for body in ({**TEMPLATE, "url": "http://example.org/x"}, {**TEMPLATE, "url": "javascript:alert(1)"},
                 {**GUIDE, "body": " "}, {**GUIDE, "title": ""}, {**GUIDE, "kind": "secret"},
                 {**GUIDE, "language": "de"}, {**GUIDE, "body": "x" * 20001}):
        r = await api.req("POST", "/resources", ADMIN, json=body)
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"), body
    assert await ok(await api.req("GET", "/resources", MENTEE)) == []


async def test_who_may_call_each_route(api: Api) -> None:
    rid = (await ok(await api.req("POST", "/resources", ADMIN, json=GUIDE), 201))["resource_id"]
    readers = {MENTEE, OTHER_MENTEE, MENTOR, SAFEGUARD, ADMIN}
    for who in (*readers, OPERATOR):
        assert (await api.req("GET", "/resources", who)).status_code == (200 if who in readers else 403), who
        for method, path in (("POST", "/resources"), ("PUT", f"/resources/{rid}")):
            if who != ADMIN:
                assert (await api.req(method, path, who, json=GUIDE)).status_code == 403, (who, method)
        if who != ADMIN:
            assert (await api.req("DELETE", f"/resources/{rid}", who)).status_code == 403, who
    service = api.issuer.headers("svc", ["service"], "sessions")
    assert (await api.client.get("/resources", headers=service)).status_code == 403
    assert (await api.client.get("/resources")).status_code == 401
