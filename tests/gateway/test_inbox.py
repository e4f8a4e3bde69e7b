"""The inbox consumer turns other services' events into per-user notices, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from redis.asyncio import Redis

from services.gateway.app import create_app
from services.gateway.config import Settings
from shared.bus import RedisStreamBus
from shared.events import new_envelope
from shared.events import types as t
from tests.support.gateway import Browser, Clock, Harness
from tests.support.servers import serve

pytestmark = pytest.mark.integration


@pytest.fixture
async def live(gw_settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    app = create_app(gw_settings, clock=clock)  # with the inbox consumer
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Harness(app, client, clock, gw_settings, url=url)


async def _inbox(h: Harness, browser: Browser, count: int) -> list[dict[str, object]]:
    for _ in range(200):
        r = await h.client.get("/me/inbox", headers=browser.headers(csrf=False))
        assert r.status_code == 200
        items = r.json()["items"]
        if len(items) >= count:
            return items  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} items, got {items}")


async def test_events_become_notices_for_the_right_people(live: Harness, redis: Redis) -> None:
    h = live
    mentor = await h.user("mentor@example.org", ["mentor"])
    mentee = await h.user("mentee@example.org", ["mentee"])
    officer = await h.user("officer@example.org", ["safeguarding"])
    outsider = await h.user("other@example.org", ["mentee"])
    sessions, records, reports = (RedisStreamBus(redis, s) for s in ("sessions", "records", "reports"))
    proposed = new_envelope(t.PairingProposed(pairing_id="p1", mentor_id=mentor.user_id, mentee_id=mentee.user_id,
                                              proposed_by="admin"), source="sessions")
    await sessions.publish_envelope(proposed)
    await sessions.publish_envelope(proposed)  # redelivered: no second notice
    now = datetime.now(UTC)
    await sessions.publish(t.SessionScheduled(session_id="s1", pairing_id="p1", starts_at=now, ends_at=now))
    await records.publish(t.RecordAccessed(record_id="r1", dispute_id="d1", accessor_id="a1", accessor_role="admin",
                                           member_ids=[mentor.user_id, mentee.user_id]))
    await reports.publish(t.ReportUrgent(report_id="rep1", category="safety"))
    for member in (mentor, mentee):
        items = await _inbox(h, member, 3)
        assert [i["kind"] for i in items] == ["record.accessed", "session.scheduled", "pairing.proposed"] or \
            sorted(i["kind"] for i in items) == ["pairing.proposed", "record.accessed", "session.scheduled"]
        accessed = next(i for i in items if i["kind"] == "record.accessed")
        assert accessed["facts"] == {"record_id": "r1", "dispute_id": "d1", "accessor_role": "admin",
                                     "break_glass": False}
    urgent = await _inbox(h, officer, 1)
    assert urgent[0]["kind"] == "report.urgent" and urgent[0]["subject_id"] == "rep1"
    await asyncio.sleep(0.2)
    assert (await h.client.get("/me/inbox", headers=outsider.headers(csrf=False))).json() == {"items": [],
                                                                                               "unread": 0}
    page = (await h.client.get("/me/inbox", headers=mentee.headers(csrf=False))).json()
    assert page["unread"] == 3 and len(page["items"]) == 3
    first = page["items"][0]["id"]
    assert (await h.client.post(f"/me/inbox/{first}/read", headers=mentee.headers())).status_code == 200
    assert (await h.client.get("/me/inbox", headers=mentee.headers(csrf=False))).json()["unread"] == 2
    # Someone else's notice is not yours to mark.
    assert (await h.client.post(f"/me/inbox/{first}/read", headers=mentor.headers())).status_code == 404
    unread = (await h.client.get("/me/inbox", params={"unread_only": "true"},
                                 headers=mentee.headers(csrf=False))).json()
    assert len(unread["items"]) == 2
    assert (await h.client.get("/me/inbox", params={"limit": "0"}, headers=mentee.headers(csrf=False))
            ).status_code == 400


async def test_break_glass_is_flagged_to_every_other_admin_and_the_pair(live: Harness, redis: Redis) -> None:
    h = live
    mentor = await h.user("m2@example.org", ["mentor"])
    mentee = await h.user("e2@example.org", ["mentee"])
    actor = await h.user("admin1@example.org", ["admin"])
    colleague = await h.user("admin2@example.org", ["admin"])
    records = RedisStreamBus(redis, "records")
    await records.publish(t.DisputeChanged(dispute_id="d9", session_id="s9", pairing_id="p9", state="break_glass",
                                           actor_id=actor.user_id, member_ids=[mentor.user_id, mentee.user_id]))
    for person in (mentor, mentee, colleague):
        items = await _inbox(h, person, 1)
        assert items[0]["kind"] == "dispute.changed"
        assert items[0]["facts"]["state"] == "break_glass" and items[0]["facts"]["break_glass"] is True
    await asyncio.sleep(0.2)
    mine = (await h.client.get("/me/inbox", headers=actor.headers(csrf=False))).json()
    assert mine["items"] == [], "the admin who broke the glass is not notified of their own act"
    # A decision other admins need not act on reaches only the pair.
    await records.publish(t.DisputeChanged(dispute_id="d9", session_id="s9", pairing_id="p9", state="closed",
                                           actor_id=colleague.user_id, member_ids=[mentor.user_id, mentee.user_id]))
    assert len(await _inbox(h, mentor, 2)) == 2
    await asyncio.sleep(0.2)
    assert len((await h.client.get("/me/inbox", headers=colleague.headers(csrf=False))).json()["items"]) == 1


async def test_a_stop_the_programme_caused_reads_as_such_in_the_pairs_inbox(live: Harness, redis: Redis) -> None:
    """A member's suspension is theirs alone: the other member's notice of the stopped recording says
    only that the programme ended it (as the call page does), never why."""
    h = live
    mentor = await h.user("mentor@example.org", ["mentor"])
    mentee = await h.user("mentee@example.org", ["mentee"])
    sessions = RedisStreamBus(redis, "sessions")
    await sessions.publish(t.PairingActivated(pairing_id="p1", mentor_id=mentor.user_id, mentee_id=mentee.user_id))
    await sessions.publish(t.RecordingStopped(session_id="s1", pairing_id="p1", recording_id="rec-1",
                                              reason="suspended"))
    await sessions.publish(t.RecordingStopped(session_id="s2", pairing_id="p1", recording_id="rec-2",
                                              reason="revoked"))
    items = await _inbox(h, mentor, 3)
    reasons = {i["facts"]["recording_id"]: i["facts"]["reason"]  # type: ignore[index]
               for i in items if i["kind"] == "recording.stopped"}
    assert reasons == {"rec-1": "ended_by_programme", "rec-2": "revoked"}


async def test_a_report_is_announced_to_every_officer_but_its_subject(live: Harness, redis: Redis) -> None:
    """Reports withholds a report from its subject: an officer who is the subject of a report gets no
    notice of it (its link would reveal that the case exists); every other active officer does, by the
    gateway's own roles, so one appointed a moment ago is told as well."""
    h = live
    subject = await h.user("subject-officer@example.org", ["safeguarding"])
    other = await h.user("other-officer@example.org", ["safeguarding"])
    reports = RedisStreamBus(redis, "reports")
    await reports.publish(t.ReportFiled(report_id="rep-about", category="boundary", urgent=True,
                                        withheld_from=(subject.user_id,)))
    await reports.publish(t.ReportUrgent(report_id="rep-about", category="boundary",
                                         withheld_from=(subject.user_id,)))
    await reports.publish(t.ReportOverdue(report_id="rep-about", withheld_from=(subject.user_id,)))
    newcomer = await h.user("new-officer@example.org", ["safeguarding"])  # appointed after the filing
    await reports.publish(t.ReportOverdue(report_id="rep-other"))
    told = await _inbox(h, other, 4)
    assert sorted((i["kind"], i["subject_id"]) for i in told) == [
        ("report.filed", "rep-about"), ("report.overdue", "rep-about"), ("report.overdue", "rep-other"),
        ("report.urgent", "rep-about")]
    mine = await _inbox(h, subject, 1)  # the last event is handled, so the earlier ones are too
    assert [(i["kind"], i["subject_id"]) for i in mine] == [("report.overdue", "rep-other")]
    # Told of what is handled once they hold the role (here at least the last event), by the gateway's roles.
    assert ("report.overdue", "rep-other") in [(i["kind"], i["subject_id"]) for i in await _inbox(h, newcomer, 1)]


async def test_a_term_ending_or_extended_reaches_both_members(live: Harness, redis: Redis) -> None:
    h = live
    mentor = await h.user("mentor@example.org", ["mentor"])
    mentee = await h.user("mentee@example.org", ["mentee"])
    sessions = RedisStreamBus(redis, "sessions")
    ends = datetime(2027, 6, 1, 12, tzinfo=UTC)
    await sessions.publish(t.PairingTermChanged(pairing_id="p1", mentor_id=mentor.user_id, mentee_id=mentee.user_id,
                                                change="ending_soon", ends_at=ends))
    await sessions.publish(t.PairingTermChanged(pairing_id="p1", mentor_id=mentor.user_id, mentee_id=mentee.user_id,
                                                change="extension_proposed", ends_at=ends,
                                                proposed_until=datetime(2027, 9, 1, 12, tzinfo=UTC)))
    for member in (mentor, mentee):
        items = await _inbox(h, member, 2)
        facts = sorted((i["facts"] for i in items), key=lambda f: str(f["change"]))
        assert [i["kind"] for i in items] == ["pairing.term", "pairing.term"]
        assert facts == [{"pairing_id": "p1", "change": "ending_soon", "ends_at": ends.isoformat()},
                         {"pairing_id": "p1", "change": "extension_proposed", "ends_at": ends.isoformat(),
                          "proposed_until": "2027-09-01T12:00:00+00:00"}]
