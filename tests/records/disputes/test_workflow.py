"""The whole dispute workflow on SQLite and PostgreSQL: hold, four-eyes, bounded window, ledger first,
pair notified, close → hold lifted → sweep expires; holds of two disputes; break-glass."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.records.audit.tables import audit_entries
from services.records.disputes.tables import dispute_accesses
from shared.events.types import DisputeChanged, RecordAccessed
from tests.support.disputes import A1, A2, A3, MENTEE, MENTOR, REASON, World, problem
from tests.support.records import meta_header

pytestmark = pytest.mark.integration


async def ledger_rows(w: World, action: str) -> list[Any]:
    async with w.h.engine.connect() as conn:
        return list(await conn.execute(sa.select(audit_entries).where(audit_entries.c.action == action)
                                       .order_by(audit_entries.c.seq)))


async def test_whole_workflow(world: World, capsys: pytest.CaptureFixture[str],
                              caplog: pytest.LogCaptureFixture) -> None:
    w, client = world, world.h.client
    a, b = w.s1
    (other,) = w.s2

    # Open (by the mentee): the session's records are held at once, the other session's are not.
    did = await w.open("s1")
    holds = await w.holds()
    assert holds[a] and holds[b] and not holds[other]
    assert (await client.get(f"/recordings/{a}", headers=w.mentor)).json()["legal_hold"] is True
    # Every recording is past retain_until now: the sweep takes only the unheld one.
    assert (await w.h.rec.retention.sweep_once()).expired == [other]

    # Ask for access: admin-1 asks that admin-2 may read recording a.
    resp = await w.post(f"/disputes/{did}/request-access", w.admin(A1), admin_ids=[A2], record_ids=[a],
                        reason="need to hear minute 3")
    assert resp.status_code == 200 and resp.json()["state"] == "pending"
    # Four-eyes: neither the requester nor the grantee decides; members and other roles can't at all.
    problem(await w.post(f"/disputes/{did}/approve", w.admin(A1), reason="ok by me"), 403, "four-eyes")
    problem(await w.post(f"/disputes/{did}/approve", w.admin(A2), reason="ok by me"), 403, "four-eyes")
    for roles in (("mentee",), ("mentor",), ("safeguarding",), ("operator",), ("service",)):
        assert (await w.post(f"/disputes/{did}/approve", w.hdr("x", *roles), reason="ok by me")).status_code == 403
    assert (await client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2))).status_code == 403
    resp = await w.post(f"/disputes/{did}/approve", w.admin(A3), reason="justified by the complaint")
    assert resp.status_code == 200 and resp.json()["state"] == "approved"
    problem(await w.post(f"/disputes/{did}/approve", w.admin(A3), reason="again"), 409, "illegal-transition")

    # The named admin reads the named record within the window, with Range.
    listing = (await client.get(f"/disputes/{did}/records", headers=w.admin(A2))).json()
    assert {r["id"]: r["readable_until"] is not None for r in listing} == {a: True, b: False}
    resp = await client.get(f"/disputes/{did}/records/{a}/content", headers={**w.admin(A2), "range": "bytes=100-4199"})
    assert resp.status_code == 206, resp.text
    assert resp.content == w.media[a][100:4200]
    assert resp.headers["content-range"] == f"bytes 100-4199/{len(w.media[a])}"
    resp = await client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2))
    assert resp.status_code == 200 and resp.content == w.media[a]
    reads = await ledger_rows(w, "dispute.record.read")
    assert [(r.actor, r.target) for r in reads] == [
        (A2, f"dispute:{did}/record:{a}#bytes=100-4199"),
        (A2, f"dispute:{did}/record:{a}#bytes=0-{len(w.media[a]) - 1}")]
    assert all(r.occurred_at is not None for r in reads)
    # Both members are told (role, not name, by default).
    accessed = await w.events("tandem.record", RecordAccessed, 2)
    assert len(accessed) == 2
    assert all(set(e.member_ids) == {MENTOR, MENTEE} and e.dispute_id == did and e.record_id == a
               and e.accessor_role == "admin" and e.accessor_id == "" and not e.break_glass for e in accessed)

    # Other records, other admins → 403; unknown dispute → 404.
    problem(await client.get(f"/disputes/{did}/records/{b}/content", headers=w.admin(A2)), 403, "no-dispute-access")
    problem(await client.get(f"/disputes/{did}/records/{other}/content", headers=w.admin(A2)), 403)
    for admin in (A1, A3):
        problem(await client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(admin)), 403)
    problem(await client.get(f"/disputes/nope/records/{a}/content", headers=w.admin(A2)), 404)

    # After the window (24 h by default) → 403.
    w.clock.advance(hours=23, minutes=59)
    assert (await client.get(f"/disputes/{did}/records/{a}/content", headers={**w.admin(A2), "range": "bytes=0-0"})
            ).status_code == 206
    w.clock.advance(minutes=1)
    problem(await client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2)), 403, "no-dispute-access")

    # Close: the hold lifts and the next sweep expires the past-due records.
    resp = await w.post(f"/disputes/{did}/close", w.admin(A1), outcome="not_upheld", reason="recording is complete")
    assert resp.status_code == 200 and resp.json()["state"] == "closed" and resp.json()["outcome"] == "not_upheld"
    assert not any((await w.holds()).values())
    problem(await w.post(f"/disputes/{did}/close", w.admin(A1), outcome="upheld", reason="again"), 409,
            "illegal-transition")
    problem(await w.post(f"/disputes/{did}/request-access", w.admin(A1), admin_ids=[A2], record_ids=[a],
                         reason="more"), 409, "illegal-transition")
    assert sorted((await w.h.rec.retention.sweep_once()).expired) == sorted([a, b])
    problem(await client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2)), 403)

    # Admin view: every transition with its reason (from the ledger), grants and accesses.
    detail = (await client.get(f"/disputes/{did}", headers=w.admin(A3))).json()
    assert [(t["action"], t["state"], t["actor_role"]) for t in detail["transitions"]] == [
        ("open", "open", "mentee"), ("request_access", "pending", "admin"), ("approve", "approved", "admin"),
        ("close", "closed", "admin")]
    assert detail["transitions"][0]["reason"] == REASON
    assert [(g["admin_id"], g["record_id"], g["granted_by"]) for g in detail["grants"]] == [(A2, a, A3)]
    assert detail["grants"][0]["revoked_at"] is not None
    assert [(x["admin_id"], x["range_start"], x["range_end"]) for x in detail["accesses"]] == [
        (A2, 100, 4199), (A2, 0, len(w.media[a]) - 1), (A2, 0, 0)]
    assert [r.action for r in await ledger_rows(w, "dispute.read")] == ["dispute.read"]
    # Members: states and accesses, no reasons, no admin ids.
    mine = await client.get("/disputes/mine", headers=w.mentor)
    assert mine.status_code == 200
    (d,) = mine.json()
    assert d["id"] == did and d["state"] == "closed" and d["opened_by_me"] is False
    assert [x["record_id"] for x in d["accesses"]] == [a, a, a]
    assert "CONFIDENTIAL" not in mine.text and A2 not in mine.text and A3 not in mine.text
    assert (await client.get("/disputes/mine", headers=w.mentee)).json()[0]["opened_by_me"] is True
    assert (await client.get("/disputes/mine", headers=w.hdr("u-stranger", "mentee"))).json() == []

    # Every state change was an event (pair told) and a ledger entry.
    changes = await w.events("tandem.dispute", DisputeChanged, 4)
    assert [e.state for e in changes] == ["opened", "access_requested", "approved", "closed"]
    assert all(set(e.member_ids) == {MENTOR, MENTEE} and e.dispute_id == did for e in changes)
    for action in ("dispute.open", "dispute.request_access", "dispute.approve", "dispute.close"):
        (row,) = await ledger_rows(w, action)
        assert row.target == f"dispute:{did}" and row.reason_sealed is not None
    # The reason never reaches logs, events or the ledger in clear.
    out = capsys.readouterr()
    assert "CONFIDENTIAL" not in out.out + out.err + caplog.text
    raw = await w.raw("tandem.dispute") + await w.raw("tandem.audit") + await w.raw("tandem.record")
    assert raw and b"CONFIDENTIAL" not in b"".join(v for f in raw for v in f.values())
    async with w.h.engine.connect() as conn:
        dump = repr([tuple(r) for r in await conn.execute(sa.select(audit_entries))])
    assert "CONFIDENTIAL" not in dump


async def test_holds_of_two_disputes_do_not_lift_each_other(world: World) -> None:
    w = world
    a, b = w.s1
    first, second = await w.open("s1"), await w.open("s1", who=w.admin(A1))
    # A recording that arrives after the dispute opened is held from its first moment.
    resp = await w.h.client.post("/internal/recordings", content=b"late" * 1000, headers={
        **w.hdr("svc-sessions", "service"), "tandem-recording": meta_header(session_id="s1", recording_id="late")})
    assert resp.status_code == 201 and resp.json()["legal_hold"] is True
    late = resp.json()["id"]
    close = {"outcome": "withdrawn", "reason": "settled between the pair"}
    assert (await w.post(f"/disputes/{first}/close", w.admin(A2), **close)).status_code == 200
    assert (await w.holds())[a] and (await w.holds())[b]
    assert (await w.h.rec.retention.sweep_once()).expired == w.s2
    assert (await w.post(f"/disputes/{second}/close", w.admin(A2), **close)).status_code == 200
    assert not any((await w.holds()).values())
    assert sorted((await w.h.rec.retention.sweep_once()).expired) == sorted([a, b, late])


async def test_break_glass_is_flagged_logged_and_reviewed(world: World) -> None:
    w, client = world, world.h.client
    a, b = w.s1
    resp = await w.post("/disputes/break-glass", w.admin(A1), session_id="s1", record_ids=[a],
                        reason="risk to a patient mentioned in the session")
    assert resp.status_code == 201, resp.text
    did = resp.json()["id"]
    assert resp.json()["state"] == "break_glass" and resp.json()["break_glass_unreviewed"] is True
    assert (await w.holds())[a]
    unreviewed = (await client.get("/disputes", params={"unreviewed": "true"}, headers=w.admin(A2))).json()
    assert [d["id"] for d in unreviewed] == [did]
    # Immediate access for that admin alone, to the named record only.
    resp = await client.get(f"/disputes/{did}/records/{a}/content", headers={**w.admin(A1), "range": "bytes=0-9"})
    assert resp.status_code == 206 and resp.content == w.media[a][:10]
    problem(await client.get(f"/disputes/{did}/records/{b}/content", headers=w.admin(A1)), 403)
    problem(await client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2)), 403)
    (row,) = await ledger_rows(w, "dispute.break_glass")
    assert row.actor == A1 and row.reason_sealed is not None
    (accessed,) = await w.events("tandem.record", RecordAccessed, 1)
    assert accessed.break_glass and set(accessed.member_ids) == {MENTOR, MENTEE}
    (flag,) = await w.events("tandem.dispute", DisputeChanged, 1)
    assert flag.state == "break_glass" and set(flag.member_ids) == {MENTOR, MENTEE}
    # It must be reviewed by another admin before anything else happens to the dispute.
    problem(await w.post(f"/disputes/{did}/close", w.admin(A2), outcome="resolved", reason="done"), 409,
            "review-required")
    problem(await w.post(f"/disputes/{did}/review", w.admin(A1), verdict="justified", reason="it was"), 403,
            "four-eyes")
    resp = await w.post(f"/disputes/{did}/review", w.admin(A2), verdict="unjustified", reason="no risk found")
    assert resp.status_code == 200 and resp.json()["state"] == "open"
    problem(await w.post(f"/disputes/{did}/review", w.admin(A3), verdict="justified", reason="again"), 409)
    problem(await client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A1)), 403)  # revoked
    assert (await client.get("/disputes", params={"unreviewed": "true"}, headers=w.admin(A2))).json() == []
    # Break-glass on an existing dispute, reviewed as justified: the grant runs to its own end (4 h).
    resp = await w.post(f"/disputes/{did}/break-glass", w.admin(A3), record_ids=[b], reason="second emergency")
    assert resp.status_code == 200 and resp.json()["state"] == "break_glass"
    resp = await w.post(f"/disputes/{did}/review", w.admin(A1), verdict="justified", reason="it was needed")
    assert resp.status_code == 200
    assert (await client.get(f"/disputes/{did}/records/{b}/content", headers=w.admin(A3))).status_code == 200
    w.clock.advance(hours=4)
    problem(await client.get(f"/disputes/{did}/records/{b}/content", headers=w.admin(A3)), 403)
    async with w.h.engine.connect() as conn:
        flags = [r.break_glass for r in await conn.execute(sa.select(dispute_accesses.c.break_glass))]
    assert flags == [True, True]


async def test_window_is_bounded_and_configurable(world: World) -> None:
    w = world
    (a, _), did = w.s1, await w.open("s1")
    body = {"admin_ids": [A2], "record_ids": [a], "reason": "need it"}
    problem(await w.post(f"/disputes/{did}/request-access", w.admin(A1), **body, window_hours=169), 400)
    assert (await w.post(f"/disputes/{did}/request-access", w.admin(A1), **body, window_hours=168)).status_code == 200
    assert (await w.post(f"/disputes/{did}/approve", w.admin(A3), reason="fine")).status_code == 200
    w.clock.advance(hours=167, minutes=59)
    assert (await w.h.client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2))).status_code == 200
    w.clock.advance(minutes=1)
    assert (await w.h.client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2))).status_code == 403
    assert timedelta(hours=168) == timedelta(days=7)


async def test_closing_two_disputes_at_once_lifts_the_hold_exactly_once(world: World) -> None:
    w = world
    first, second = await w.open("s1"), await w.open("s1", who=w.mentor)
    close = {"outcome": "resolved", "reason": "both settled"}
    results = await asyncio.gather(w.post(f"/disputes/{first}/close", w.admin(A1), **close),
                                   w.post(f"/disputes/{second}/close", w.admin(A2), **close))
    assert [r.status_code for r in results] == [200, 200]
    assert not any((await w.holds()).values())  # neither close saw the other as still open forever
