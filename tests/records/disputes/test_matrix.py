"""Staff with no dispute reach no content: every route of the app's route table (so a new route can't be
missed) is called by admins without a grant, an operator and a safeguarding lead; content routes must
refuse them, and no response anywhere may carry a note's or a recording's plaintext. An admin holding a
grant reads exactly one thing: the granted record, through the dispute route."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from tests.support.disputes import A2, World
from tests.support.records import meta_header

pytestmark = pytest.mark.integration

CANARY = "CANARY-7f3a-CONTENT"
TRANSITIONS = ("approve", "reject", "close", "break-glass", "review", "request-access")
# Routes that return no note or recording content (metadata, keys, probes, the ledger view, dispute
# bookkeeping). Every other route must answer staff with 403/404.
NO_CONTENT = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/whoami"),
    ("GET", "/retention/receipt-jwks"), ("GET", "/retention/policy"), ("GET", "/audit/entries"),
    ("GET", "/disputes"), ("POST", "/disputes"), ("POST", "/disputes/break-glass"),
    ("GET", "/disputes/{dispute_id:str}"), ("GET", "/disputes/{dispute_id:str}/records"),
    *(("POST", f"/disputes/{{dispute_id:str}}/{t}") for t in TRANSITIONS),
}
STAFF = {"admin-without-dispute": ("admin-9", ["admin"]), "granted-admin": (A2, ["admin"]),
         "operator": ("u-op", ["operator"]), "safeguarding": ("u-safe", ["safeguarding"]),
         "admin-and-operator": ("admin-8", ["admin", "operator"])}


def routes(w: World) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for route in w.h.app.routes:
        assert isinstance(route, HTTPRoute), route  # a websocket route would need its own case here
        out += [(str(m), route.path) for m in sorted(route.methods) if m not in ("OPTIONS", "HEAD")]
    return out


async def test_staff_without_a_dispute_reach_no_content(world: World) -> None:
    w, client = world, world.h.client
    a = w.s1[0]
    # Content with a canary: a pair note and the recording admin-2 will be granted.
    note = (await client.post("/notes", headers=w.mentee, json={"pairing_id": "p1", "visibility": "pair",
                                                                 "text": f"note {CANARY}"})).json()["id"]
    body = bytearray(w.media[a])
    body[5000:5000 + len(CANARY)] = CANARY.encode()
    resp = await client.post("/internal/recordings", content=bytes(body), headers={
        **w.hdr("svc-sessions", "service"),
        "tandem-recording": meta_header(session_id="s1", recording_id="canary")})
    rec = resp.json()["id"]
    did = await w.approved("s1", grantee=A2, record=rec)
    params = {"note_id": note, "record_id": rec, "dispute_id": did, "path": "openapi.json"}

    table = routes(w)
    assert ("GET", "/disputes/{dispute_id:str}/records/{record_id:str}/content") in table
    assert ("GET", "/notes/{note_id:str}") in table and ("GET", "/recordings/{record_id:str}/content") in table
    served = []
    for method, template in table:
        names = re.findall(r"{(\w+):\w+}", template)
        missing = [n for n in names if n not in params]
        assert not missing, f"new path parameter {missing} in {template}: add a value to the matrix"
        path = re.sub(r"{(\w+):\w+}", lambda m: params[m.group(1)], template)
        for actor, (sub, roles) in STAFF.items():
            kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PUT") else {}
            resp = await client.request(method, path, headers=w.hdr(sub, *roles), **kwargs)
            legit = actor == "granted-admin" and template.endswith("/content") and template.startswith("/disputes")
            if legit:
                assert resp.status_code == 200 and CANARY.encode() in resp.content, resp.text
                served.append(template)
                continue
            assert CANARY.encode() not in resp.content, (method, template, actor)
            if (method, template) not in NO_CONTENT and not template.startswith("/schema"):
                assert resp.status_code in (403, 404), (method, template, actor, resp.status_code)
    assert served == ["/disputes/{dispute_id:str}/records/{record_id:str}/content"]
    # The content a member can read is really there (the canary check above is not vacuous).
    assert CANARY in (await client.get(f"/notes/{note}", headers=w.mentee)).text
