"""Route-by-role matrix: only safeguarding reads a case; everyone else gets the same answer whether or
not the report exists, and the person a report is about cannot find it, even as an officer.

Role checks happen before any query, so the matrix runs on SQLite only; the subject filter is SQL and
runs on both databases."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.support.reports import Api

pytestmark = pytest.mark.integration

MISSING = "0" * 32
REPORTER, SUBJECT = "mentee-1", "mentor-7"

# (method, path template, json body) for every safeguarding route
CASE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/cases", None),
    ("GET", "/cases/{rid}", None),
    ("POST", "/cases/{rid}/transitions", {"to": "acknowledged"}),
    ("PUT", "/cases/{rid}/assignee", {"assignee_id": "x"}),
    ("POST", "/cases/{rid}/notes", {"text": "n"}),
    ("POST", "/cases/{rid}/messages", {"text": "m"}),
    ("GET", "/cases/{rid}/attachments/{aid}", None),
    ("POST", "/cases/{rid}/reveal-requests", {"reason": "because"}),
    ("POST", "/cases/{rid}/reveal-requests/{qid}/approve", {"reason": "because"}),
    ("PUT", "/cases/{rid}/legal-hold", {"hold": True, "reason": "litigation"}),
]

OUTSIDERS = {
    "admin": ("admin-1", ["admin"]),
    "operator": ("operator-1", ["operator"]),
    "reported person": (SUBJECT, ["mentor"]),
    "other participant": ("mentee-2", ["mentee"]),
    "admin+operator": ("boss-1", ["admin", "operator", "mentor"]),
    "service": ("svc-sessions", ["service"]),
    "public form": ("anonymous", []),
}


def _shape(resp: Any) -> tuple[int, dict[str, Any]]:
    body = resp.json()
    body.pop("instance", None)  # the request path differs by construction
    return resp.status_code, body


async def _call(api: Api, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Any:
    return await api.client.request(method, path, json=body, headers=headers)


async def _setup(api: Api) -> tuple[str, str, str]:
    filed = await api.file(api.as_(REPORTER, "mentee"), person_id=SUBJECT, attachments=[
        {"filename": "a.txt", "media_type": "text/plain", "content": base64.b64encode(b"hello").decode()}])
    rid = filed["id"]
    sg = api.as_("officer-1", "safeguarding")
    case = (await api.client.get(f"/cases/{rid}", headers=sg)).json()
    req = (await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": "safety risk"}, headers=sg)).json()
    return rid, case["attachments"][0]["id"], req["id"]


async def test_only_safeguarding_reaches_cases(api: Api) -> None:
    rid, aid, qid = await _setup(api)
    for label, (sub, roles) in OUTSIDERS.items():
        headers = api.as_(sub, *roles)
        for method, template, body in CASE_ROUTES:
            existing = await _call(api, method, template.format(rid=rid, aid=aid, qid=qid), body, headers)
            missing = await _call(api, method, template.format(rid=MISSING, aid=MISSING, qid=MISSING), body,
                                  headers)
            assert existing.status_code == 403, (label, method, template)
            assert _shape(existing) == _shape(missing), (label, method, template)
            assert rid not in str(_shape(existing))  # only the echoed request path names it
    # Nothing those calls tried changed the case.
    case = (await api.client.get(f"/cases/{rid}", headers=api.as_("officer-2", "safeguarding"))).json()
    assert case["case"]["state"] == "received" and case["notes"] == [] and case["case"]["assignee_id"] is None


async def test_reporters_view_is_private(api: Api) -> None:
    rid, _, _ = await _setup(api)
    assert (await api.client.get(f"/mine/{rid}", headers=api.as_(REPORTER, "mentee"))).status_code == 200
    for label, (sub, roles) in OUTSIDERS.items():
        headers = api.as_(sub, *roles)
        mine = await api.client.get("/mine", headers=headers)
        assert mine.status_code in (200, 403), label
        if mine.status_code == 200:
            assert mine.json() == [], label
        for method, path, body in (("GET", "/mine/{rid}", None), ("POST", "/mine/{rid}/messages", {"text": "hi"})):
            existing = await _call(api, method, path.format(rid=rid), body, headers)
            missing = await _call(api, method, path.format(rid=MISSING), body, headers)
            assert existing.status_code in (403, 404), label
            assert _shape(existing) == _shape(missing), (label, path)
    # Safeguarding officers do not read cases through the reporter's routes either.
    officer = await api.client.get(f"/mine/{rid}", headers=api.as_("officer-1", "safeguarding"))
    assert officer.status_code == 404


async def test_officer_who_is_the_subject_cannot_see_the_report(api: Api) -> None:
    rid, aid, qid = await _setup(api)
    conflicted = api.as_(SUBJECT, "safeguarding", "mentor")
    listing = (await api.client.get("/cases", headers=conflicted)).json()
    assert rid not in [c["id"] for c in listing]
    assert rid in [c["id"] for c in (await api.client.get("/cases", headers=api.as_("officer-1", "safeguarding")
                                                          )).json()]
    for method, template, body in CASE_ROUTES[1:]:
        existing = await _call(api, method, template.format(rid=rid, aid=aid, qid=qid), body, conflicted)
        missing = await _call(api, method, template.format(rid=MISSING, aid=MISSING, qid=MISSING), body, conflicted)
        assert existing.status_code == 404, (method, template)
        assert _shape(existing) == _shape(missing), (method, template)


async def test_safeguarding_reads_and_unknown_ids_are_404(api: Api) -> None:
    rid, aid, _ = await _setup(api)
    sg = api.as_("officer-2", "safeguarding")
    assert (await api.client.get(f"/cases/{rid}", headers=sg)).status_code == 200
    assert (await api.client.get(f"/cases/{rid}/attachments/{aid}", headers=sg)).status_code == 200
    assert (await api.client.get(f"/cases/{rid}/attachments/{MISSING}", headers=sg)).status_code == 404
    assert (await api.client.get(f"/cases/{MISSING}", headers=sg)).status_code == 404
    assert (await api.client.get("/cases?state=received", headers=sg)).json()[0]["id"] == rid
    assert (await api.client.get("/cases?state=closed", headers=sg)).json() == []
    assert (await api.client.get("/cases", headers={})).status_code == 401
    assert (await api.client.post("/concerns", json={"category": "other", "text": "x"}, headers={})).status_code == 401
    schema = (await api.client.get("/schema/openapi.json")).json()
    for path in ("/concerns", "/mine", "/mine/{report_id}", "/receipt", "/receipt/messages", "/cases",
                 "/cases/{report_id}", "/cases/{report_id}/reveal-requests/{request_id}/approve"):
        assert path in schema["paths"], path
