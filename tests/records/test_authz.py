"""Authorization matrix: every records route against every role and relation to the pairing.

Pair members reach their pairing's records; members of other pairs get 404 (existence is not
revealed); admins, safeguarding leads and operators get 403 on every content route (disputes are
their only path, issue 5); only the service identity may ingest."""

from __future__ import annotations

import pytest

from tests.support.records import Harness, meta_header

pytestmark = pytest.mark.integration

MENTOR, MENTEE = "u-mentor", "u-mentee"
ACTORS: dict[str, tuple[str, list[str]]] = {
    "author-mentee": (MENTEE, ["mentee"]),
    "pair-mentor": (MENTOR, ["mentor"]),
    "other-mentee": ("u-x-mentee", ["mentee"]),
    "other-mentor": ("u-x-mentor", ["mentor"]),
    "admin": ("u-admin", ["admin"]),
    "safeguarding": ("u-safe", ["safeguarding"]),
    "operator": ("u-op", ["operator"]),
    "service": ("svc-sessions", ["service"]),
}
STAFF = {"admin": 403, "safeguarding": 403, "operator": 403, "service": 403}
OUTSIDERS = {"other-mentee": 404, "other-mentor": 404}


async def test_every_route_and_role(harness: Harness) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    await h.pair("p2", "u-x-mentor", "u-x-mentee")
    author = h.h(MENTEE, "mentee")
    note = (await h.client.post("/notes", headers=author,
                                json={"pairing_id": "p1", "text": "pair note", "visibility": "pair"})).json()["id"]
    private = (await h.client.post("/notes", headers=author,
                                   json={"pairing_id": "p1", "text": "mine", "visibility": "private"})).json()["id"]
    rec = (await h.client.post("/internal/recordings", content=b"webm-bytes" * 100,
                               headers={**h.h("svc", "service"), "tandem-recording": meta_header()})).json()["id"]

    def expect(member_status: dict[str, int]) -> dict[str, int]:
        return {**STAFF, **OUTSIDERS, **member_status}

    cases: list[tuple[str, str, dict[str, object], dict[str, int]]] = [
        ("POST", "/notes", {"json": {"pairing_id": "p1", "text": "hello"}},
         expect({"author-mentee": 201, "pair-mentor": 201})),
        ("GET", "/notes?pairing_id=p1", {}, expect({"author-mentee": 200, "pair-mentor": 200})),
        ("GET", f"/notes/{note}", {}, expect({"author-mentee": 200, "pair-mentor": 200})),
        ("GET", f"/notes/{private}", {}, expect({"author-mentee": 200, "pair-mentor": 404})),
        ("GET", f"/notes/{note}/versions", {}, expect({"author-mentee": 200, "pair-mentor": 200})),
        ("PUT", f"/notes/{note}", {"json": {"text": "edited"}}, expect({"author-mentee": 200, "pair-mentor": 403})),
        ("PUT", f"/notes/{private}", {"json": {"text": "edited"}}, expect({"author-mentee": 200, "pair-mentor": 404})),
        ("DELETE", f"/notes/{private}", {}, expect({"author-mentee": None, "pair-mentor": 404})),  # type: ignore[dict-item]
        ("GET", "/recordings?pairing_id=p1", {}, expect({"author-mentee": 200, "pair-mentor": 200})),
        ("GET", f"/recordings/{rec}", {}, expect({"author-mentee": 200, "pair-mentor": 200})),
        ("GET", f"/recordings/{rec}/content", {"headers": {"range": "bytes=0-9"}},
         expect({"author-mentee": 206, "pair-mentor": 206})),
        ("DELETE", f"/recordings/{rec}", {}, expect({"author-mentee": None, "pair-mentor": None})),  # type: ignore[dict-item]
        ("POST", "/internal/recordings", {"content": b"x", "headers": {"tandem-recording": meta_header()}},
         {**{a: 403 for a in ACTORS}, "service": 201}),
        ("GET", "/retention/receipt-jwks", {}, {a: 200 for a in ACTORS}),
    ]
    for method, path, kwargs, expected in cases:
        for actor, (sub, roles) in ACTORS.items():
            status = expected[actor]
            if status is None:
                continue  # destructive for members: exercised below
            extra_headers = dict(kwargs.get("headers", {}))  # type: ignore[call-overload]
            other = {k: v for k, v in kwargs.items() if k != "headers"}
            resp = await h.client.request(method, path, headers={**h.h(sub, *roles), **extra_headers}, **other)
            assert resp.status_code == status, (method, path, actor, resp.text)
            if status >= 400:
                assert resp.headers["content-type"].startswith("application/problem+json")
                assert "pair note" not in resp.text and "mine" not in resp.text
        resp = await h.client.request(method, path, **{k: v for k, v in kwargs.items() if k != "headers"})
        assert resp.status_code == 401, (method, path, "anonymous")

    # Unknown ids look exactly like other people's records.
    for path in ("/notes/nope", "/recordings/nope", "/recordings/nope/content"):
        assert (await h.client.get(path, headers=author)).status_code == 404
    assert (await h.client.get("/notes?pairing_id=p2", headers=author)).status_code == 404
    assert (await h.client.get("/recordings?pairing_id=p9", headers=author)).status_code == 404

    # Destructive routes for members, last: the mentor may erase the pair's recording; notes are the author's.
    assert (await h.client.delete(f"/notes/{private}", headers=author)).status_code == 204
    assert (await h.client.delete(f"/recordings/{rec}", headers=h.h(MENTOR, "mentor"))).status_code == 204
    assert (await h.client.get(f"/recordings/{rec}", headers=author)).status_code == 410
