"""Guard: who reads what in the auditor view, role by role and action by action.

The ledger holds entries of all four services: the reports service runs for real (an identified and
an anonymous concern, an officer's read, reveal request and legal hold, the reporter reading their
own report) and publishes on the same Redis as the records app that appends them; records writes its
own fail-closed entries (a dispute with its free-text reason, every search); gateway and sessions
entries arrive on `tandem.audit` as those services publish them (their emitters' exact shapes), plus
one action no catalogue knows. Every role then searches: what each sees of each field is checked."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from deploy.local.children import S3Child
from services.records.audit.service import record_access_or_fail
from services.reports.app import create_app as create_reports_app
from services.reports.config import Settings as ReportsSettings
from shared.events import new_envelope
from shared.events.types import AuditEntry
from tests.support.audit import AuditApp, appended
from tests.support.databases import Databases
from tests.support.identity import TestIssuer

pytestmark = pytest.mark.integration

REPORTER, OFFICER, ADMIN = "u-reporter-5d1e", "u-officer-a1", "u-admin-77"
CONCERN = "CANARY-CONCERN my mentor touched me"
REVEAL_REASON = "CANARY-REVEAL imminent risk to the reporter"
HOLD_REASON = "CANARY-HOLD police asked us to keep it"
DISPUTE_REASON = "CANARY-DISPUTE the mentee says the recording was cut short"
ROLES_REASON = "mentor,mentee"
MYSTERY = "gateway.mystery_action"


@dataclass
class World:
    app: AuditApp
    report_id: str
    anon_event_seen: bool = True


async def _publish(app: AuditApp, source: str, actor: str, action: str, target: str, outcome: str = "success",
                   reason: str | None = None) -> None:
    envelope = new_envelope(AuditEntry(actor=actor, action=action, target=target, outcome=outcome, reason=reason),
                            source=source, subject=target)
    await app.run(app.runtime.bus.publish_envelope, envelope)


@pytest.fixture
async def world(audit_app: AuditApp, database_url: Databases, redis_url: str, s3_server: S3Child,
                issuer: TestIssuer, tmp_path: Path) -> AsyncIterator[World]:
    app = audit_app
    settings = ReportsSettings(
        database_url=database_url("reports"), redis_url=redis_url, jwks_file=str(issuer.jwks_path),
        s3_endpoint=s3_server.endpoint, s3_access_key=s3_server.access_key, s3_secret_key=s3_server.secret_key,
        s3_bucket=f"reports-{secrets.token_hex(4)}", keyring_path=str(tmp_path / "reports-keyring.json"),
        sweep_interval_s=0.0, argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    async with issuer.bind(AsyncTestClient(create_reports_app(settings))) as reports:
        def as_(sub: str, *roles: str) -> dict[str, str]:
            return issuer.headers(sub, list(roles), "reports")

        filed = await reports.post("/concerns", json={"category": "boundary", "text": CONCERN, "anonymous": False},
                                   headers=as_(REPORTER, "mentee"))
        assert filed.status_code == 201, filed.text
        rid = filed.json()["id"]
        anon = await reports.post("/concerns", json={"category": "boundary", "text": CONCERN, "anonymous": True},
                                  headers=as_("anonymous"))
        assert anon.status_code == 201, anon.text
        officer = as_(OFFICER, "safeguarding")
        assert (await reports.get(f"/cases/{rid}", headers=officer)).status_code == 200
        assert (await reports.post(f"/cases/{rid}/reveal-requests", json={"reason": REVEAL_REASON},
                                   headers=officer)).status_code == 201
        assert (await reports.put(f"/cases/{rid}/legal-hold", json={"hold": True, "reason": HOLD_REASON},
                                  headers=officer)).status_code == 200
        assert (await reports.get(f"/mine/{rid}", headers=as_(REPORTER, "mentee"))).status_code == 200
    # gateway and sessions, as their emitters publish
    await _publish(app, "gateway", REPORTER, "auth.login", f"user:{REPORTER}")
    await _publish(app, "gateway", ADMIN, "user.roles_change", "user:u-mentor-2", reason=ROLES_REASON)
    await _publish(app, "gateway", ADMIN, MYSTERY, "user:u-mentor-2", reason="CANARY-MYSTERY")
    await _publish(app, "sessions", "u-mentor-2", "pairing.accept", "pairing:p-9")
    # records' own, fail closed
    await app.run(record_access_or_fail, app.ledger, actor=ADMIN, action="dispute.open", target="dispute:d-3",
                  reason=DISPUTE_REASON)
    # 6 from reports (2 filed, read, reveal, hold, read_own) + 4 published + 1 dispute
    await appended(app, 11)
    yield World(app, rid)


ROLES: dict[str, tuple[str, ...]] = {
    "mentee": ("mentee",), "mentor": ("mentor",), "admin": ("admin",), "safeguarding": ("safeguarding",),
    "operator": ("operator",), "service": ("service",),
}
PROGRAMME = {"auth.login", "user.roles_change", "pairing.accept", "dispute.open"}
REPORTS = {"report.filed", "report.read", "report.reveal_requested", "report.legal_hold.set", "report.read_own"}
SEES: dict[str, set[str]] = {
    "admin": PROGRAMME | {"audit.search"},
    "safeguarding": REPORTS | {"audit.search"},
    "operator": PROGRAMME | {"audit.search", MYSTERY},
}


async def _search(w: World, sub: str, roles: tuple[str, ...], **params: str) -> Any:
    headers = w.app.h(sub, *roles) if roles or sub else {}
    return await w.app.client.get("/audit/entries", params={"limit": "500", **params}, headers=headers)


async def test_each_role_sees_only_its_audience(world: World) -> None:
    w = world
    assert (await w.app.client.get("/audit/entries")).status_code == 401
    for role, roles in ROLES.items():
        resp = await _search(w, f"u-{role}-reader", roles)
        if role not in SEES:
            assert resp.status_code == 403, role
            assert resp.headers["content-type"].startswith("application/problem+json")
            continue
        assert resp.status_code == 200, (role, resp.text)
        entries = resp.json()["entries"]
        assert {e["action"] for e in entries} == SEES[role], role
        text = resp.text
        # Nobody, safeguarding included, gets the reporter's account id from a report's entry.
        reports_text = str([e for e in entries if e["action"].startswith("report.")])
        assert REPORTER not in reports_text, role
        assert "CANARY-CONCERN" not in text and "CANARY-MYSTERY" not in text, role
        by_action: dict[str, list[dict[str, Any]]] = {}
        for e in entries:
            by_action.setdefault(e["action"], []).append(e)
        if role == "admin":
            assert REVEAL_REASON not in text and HOLD_REASON not in text and "report:" not in text
            assert by_action["auth.login"][0]["actor"] == REPORTER  # a sign-in is programme business
            assert by_action["user.roles_change"][0]["reason"] == ROLES_REASON
            assert by_action["dispute.open"][0]["reason"] == DISPUTE_REASON
            assert by_action["pairing.accept"][0]["actor"] == "u-mentor-2"
        if role == "safeguarding":
            assert DISPUTE_REASON not in text and ROLES_REASON not in text and ADMIN not in text
            filed = by_action["report.filed"]
            assert len(filed) == 2 and all(e["actor"] is None and e["actor_view"] == "withheld" for e in filed)
            assert {e["target"] for e in filed} >= {f"report:{w.report_id}"}
            assert by_action["report.read_own"][0]["actor"] is None
            assert by_action["report.read"][0]["actor"] == OFFICER
            # The officers' free text stays sealed in the reports database; the reasons name where.
            assert by_action["report.reveal_requested"][0]["reason"].startswith("reveal-request:")
            assert by_action["report.legal_hold.set"][0]["reason"].startswith("note:")
            assert REVEAL_REASON not in text and HOLD_REASON not in text
        if role == "operator":
            for secret in (REVEAL_REASON, HOLD_REASON, DISPUTE_REASON, ROLES_REASON, REPORTER, ADMIN, OFFICER,
                           "u-mentor-2", "report:"):
                assert secret not in text, secret
            for e in entries:
                if e["action"] == MYSTERY:
                    assert e["problem"] == "uncatalogued-action"
                    assert (e["actor"], e["target"], e["outcome"], e["reason"]) == (None, None, None, None)
                    continue
                assert e["problem"] is None
                assert e["actor_view"] == "pseudonym" and e["actor"].startswith("p:")
                assert e["target_view"] == "pseudonym" and e["reason"] is None
            # One pseudonym per person: the admin's, the officer's and this operator's searches so far.
            assert len({e["actor"] for e in by_action["audit.search"]}) == 3


async def test_searching_by_a_value_only_finds_what_the_reader_reads_in_clear(world: World) -> None:
    w = world
    admin = await _search(w, "u-admin-reader", ("admin",), actor=REPORTER)
    assert [e["action"] for e in admin.json()["entries"]] == ["auth.login"]  # not the filing
    safeguarding = await _search(w, "u-sg-reader", ("safeguarding",), actor=REPORTER)
    assert safeguarding.json()["entries"] == []
    by_target = await _search(w, "u-admin-reader", ("admin",), target=f"report:{w.report_id}")
    assert by_target.json()["entries"] == []
    officer = await _search(w, "u-sg-reader", ("safeguarding",), target=f"report:{w.report_id}")
    assert {e["action"] for e in officer.json()["entries"]} == REPORTS
    operator = await _search(w, "u-op-reader", ("operator",), actor=ADMIN)
    assert operator.json()["entries"] == []
    assert (await _search(w, "u-op-reader", ("operator",), action=MYSTERY)).json()["entries"][0]["problem"] \
        == "uncatalogued-action"
    assert (await _search(w, "u-admin-reader", ("admin",), action=MYSTERY)).json()["entries"] == []


async def test_an_admin_who_is_also_an_officer_gets_each_entry_as_its_owner_sees_it(world: World) -> None:
    resp = await _search(world, "u-both", ("admin", "safeguarding"))
    entries = resp.json()["entries"]
    assert {e["action"] for e in entries} == PROGRAMME | REPORTS | {"audit.search"}
    assert all(e["actor"] is None for e in entries if e["action"] in ("report.filed", "report.read_own"))


async def test_the_ledger_itself_never_holds_the_reporters_id(world: World) -> None:
    rows = await appended(world.app, 11)
    reports_rows = [r for r in rows if r.action.startswith("report.")]
    assert reports_rows and all(REPORTER not in str(r.actor) for r in reports_rows)
    assert all(r.actor is None or r.actor.startswith(("reporter:", "anonymous", OFFICER))
               for r in reports_rows if r.action in ("report.filed", "report.read_own", "report.read"))
