"""`exclude_action` on the auditor view: a reader leaves out actions (the web app hides the ledger's own
`audit.search` entries by default, so reading the ledger does not bury everything else at the top).
Excluded entries take no place in a page; the roles that may search are unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.audit import AuditApp, entry

pytestmark = pytest.mark.integration

ROLES = [["mentee"], ["mentor"], ["safeguarding"], ["operator"], ["service"], ["mentor", "mentee"], ["admin"]]
MYSTERY = "gateway.mystery_action"


async def seed(app: AuditApp) -> None:
    for i, action in enumerate(("note.create", "audit.search", "dispute.open", "audit.search", "audit.search",
                                "pairing.propose", MYSTERY, "audit.search"), start=1):
        await app.run(app.ledger.append, entry(i, action=action, actor=f"user:{i}", target=f"thing:{i}"))


async def search(app: AuditApp, *roles: str, **params: Any) -> list[dict[str, Any]]:
    resp = await app.client.get("/audit/entries", params=params, headers=app.h("reader-1", *roles))
    assert resp.status_code == 200, resp.text
    return resp.json()["entries"]  # type: ignore[no-any-return]


async def test_excluded_actions_are_left_out_and_take_no_place_in_a_page(audit_app: AuditApp) -> None:
    await seed(audit_app)
    everything = [e["action"] for e in await search(audit_app, "admin")]
    assert everything.count("audit.search") == 5  # four seeded, and this search itself
    quiet = await search(audit_app, "admin", exclude_action="audit.search")
    assert [e["action"] for e in quiet] == ["pairing.propose", "dispute.open", "note.create"]
    page = (await audit_app.client.get("/audit/entries", params={"exclude_action": "audit.search", "limit": 2},
                                       headers=audit_app.h("reader-1", "admin"))).json()
    assert [e["action"] for e in page["entries"]] == ["pairing.propose", "dispute.open"]
    older = await search(audit_app, "admin", exclude_action="audit.search", limit=2,
                         before_seq=page["next_before_seq"])
    assert [e["action"] for e in older] == ["note.create"]
    several = await search(audit_app, "admin", exclude_action=["audit.search", "pairing.propose"])
    assert [e["action"] for e in several] == ["dispute.open", "note.create"]
    # Operators' uncatalogued entries can be left out too; the searches are still recorded.
    operator = [e["action"] for e in await search(audit_app, "operator", exclude_action=[MYSTERY, "audit.search"])]
    assert MYSTERY not in operator and "audit.search" not in operator and "note.create" in operator
    assert MYSTERY in [e["action"] for e in await search(audit_app, "operator")]
    # An action both asked for and excluded: nothing.
    assert await search(audit_app, "admin", action="dispute.open", exclude_action="dispute.open") == []


async def test_exclude_action_keeps_the_ledgers_audiences(audit_app: AuditApp) -> None:
    await seed(audit_app)
    for roles in ROLES:
        resp = await audit_app.client.get("/audit/entries", params={"exclude_action": "audit.search"},
                                          headers=audit_app.h("someone", *roles))
        if roles in (["admin"], ["safeguarding"], ["operator"]):
            assert resp.status_code == 200, (roles, resp.text)
            assert "audit.search" not in {e["action"] for e in resp.json()["entries"]}
            continue
        assert resp.status_code == 403, roles
        assert resp.headers["content-type"].startswith("application/problem+json")
    anonymous = await audit_app.client.get("/audit/entries", params={"exclude_action": "audit.search"})
    assert anonymous.status_code == 401


async def test_exclude_action_is_bounded(audit_app: AuditApp) -> None:
    admin = audit_app.h("reader-1", "admin")
    for bad in ({"exclude_action": [f"a.{i}" for i in range(21)]}, {"exclude_action": "x" * 101}):
        resp = await audit_app.client.get("/audit/entries", params=bad, headers=admin)
        assert resp.status_code == 400, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.sqlite_pass_only(reason="OpenAPI schema only: the same on every backend")
async def test_exclude_action_is_in_the_openapi_schema(audit_app: AuditApp) -> None:
    schema = (await audit_app.client.get("/schema/openapi.json")).json()
    params = {p["name"]: p for p in schema["paths"]["/audit/entries"]["get"]["parameters"]}
    param = params["exclude_action"]
    assert param["in"] == "query" and param["required"] is False
    assert "audit.search" in param["description"]
    assert "array" in str(param["schema"])
