"""Guard: a safeguarding officer who is the subject of a report never sees its trail in the ledger.

The reports service hides such a case from its subject; the ledger must not undo that: the entries
of the report (who read it, requested a reveal, set a hold, and when) are left out of the subject's
search, counted nowhere (a page is full of entries they may see), while every other officer sees them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from deploy.local.children import S3Child
from services.reports.app import create_app as create_reports_app
from services.reports.config import Settings as ReportsSettings
from tests.support.audit import AuditApp, appended
from tests.support.databases import Databases
from tests.support.identity import TestIssuer

pytestmark = pytest.mark.integration

REPORTER, SUBJECT, OFFICER = "u-reporter-31", "u-officer-subject", "u-officer-b2"


@dataclass
class Case:
    app: AuditApp
    about_subject: str  # a report about SUBJECT
    other: str  # a report about nobody


@pytest.fixture
async def case(audit_app: AuditApp, database_url: Databases, redis_url: str, s3_server: S3Child,
               issuer: TestIssuer, tmp_path: Path) -> AsyncIterator[Case]:
    settings = ReportsSettings(
        database_url=database_url("reports"), redis_url=redis_url, jwks_file=str(issuer.jwks_path),
        s3_endpoint=s3_server.endpoint, s3_access_key=s3_server.access_key, s3_secret_key=s3_server.secret_key,
        s3_bucket=f"reports-{secrets.token_hex(4)}", keyring_path=str(tmp_path / "reports-keyring.json"),
        sweep_interval_s=0.0, argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    async with issuer.bind(AsyncTestClient(create_reports_app(settings))) as reports:
        def as_(sub: str, *roles: str) -> dict[str, str]:
            return issuer.headers(sub, list(roles), "reports")

        async def file(**extra: Any) -> str:
            resp = await reports.post("/concerns", json={"category": "boundary", "text": "about an officer",
                                                         "anonymous": False, **extra},
                                      headers=as_(REPORTER, "mentee"))
            assert resp.status_code == 201, resp.text
            return str(resp.json()["id"])

        about, other = await file(person_id=SUBJECT), await file()
        officer = as_(OFFICER, "safeguarding")
        for rid in (about, other):
            assert (await reports.get(f"/cases/{rid}", headers=officer)).status_code == 200
            assert (await reports.post(f"/cases/{rid}/reveal-requests", json={"reason": "risk to the reporter"},
                                       headers=officer)).status_code == 201
            assert (await reports.put(f"/cases/{rid}/legal-hold", json={"hold": True, "reason": "police"},
                                      headers=officer)).status_code == 200
        assert (await reports.get(f"/mine/{about}", headers=as_(REPORTER, "mentee"))).status_code == 200
        # The subject's own attempt answers like a missing report, and its entry stays visible to
        # them as any missing report's would (hiding it would tell them the report exists).
        assert (await reports.get(f"/cases/{about}", headers=as_(SUBJECT, "safeguarding"))).status_code == 404
    # 2 filed + 2 x (read, reveal, hold) + read_own + the subject's denied read
    await appended(audit_app, 10)
    yield Case(audit_app, about, other)


async def _search(app: AuditApp, sub: str, **params: str) -> Any:
    resp = await app.client.get("/audit/entries", params=params, headers=app.h(sub, "safeguarding"))
    assert resp.status_code == 200, resp.text
    return resp.json()


def _trail(page: Any, rid: str) -> list[tuple[str, str | None, str]]:
    return [(e["action"], e["actor"], e["outcome"]) for e in page["entries"] if e["target"] == f"report:{rid}"]


async def test_the_subject_never_sees_the_trail_of_a_report_about_them(case: Case) -> None:
    everything = await _search(case.app, OFFICER, limit="500")
    assert {a for a, _, _ in _trail(everything, case.about_subject)} == {
        "report.filed", "report.read", "report.reveal_requested", "report.legal_hold.set", "report.read_own"}

    mine = await _search(case.app, SUBJECT, limit="500")
    assert _trail(mine, case.about_subject) == [("report.read", SUBJECT, "denied")]
    assert {a for a, _, _ in _trail(mine, case.other)} == {
        "report.filed", "report.read", "report.reveal_requested", "report.legal_hold.set"}
    by_target = await _search(case.app, SUBJECT, target=f"report:{case.about_subject}")
    assert _trail(by_target, case.about_subject) == [("report.read", SUBJECT, "denied")]
    by_actor = await _search(case.app, SUBJECT, actor=OFFICER, limit="500")
    assert _trail(by_actor, case.about_subject) == [] and _trail(by_actor, case.other)


async def test_hidden_entries_take_no_place_in_a_page(case: Case) -> None:
    """A page of `limit` entries is full whenever that many are visible, and paging reaches them all."""
    visible = [e["seq"] for e in (await _search(case.app, SUBJECT, limit="500"))["entries"]]
    seen: list[int] = []
    before: str | None = None
    while True:
        page = await _search(case.app, SUBJECT, limit="2", **({"before_seq": before} if before else {}))
        seen += [e["seq"] for e in page["entries"]]
        assert _trail(page, case.about_subject) in ([], [("report.read", SUBJECT, "denied")])
        if page["next_before_seq"] is None:
            break
        assert len(page["entries"]) == 2
        before = str(page["next_before_seq"])
    # The searches themselves were added meanwhile (newer than the first listing): compare the rest.
    assert [s for s in seen if s <= visible[0]] == visible
