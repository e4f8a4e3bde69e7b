"""A recording's consent evidence is completed when `recording.stopped` arrives: who revoked, when it
stopped, each ledger line once (redelivery adds nothing), and only for the recording it names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.records.lifecycle.tables import records
from shared.events import new_envelope
from shared.events.types import ConsentLine, RecordingStopped
from tests.support.records import CONSENT, MENTEE, MENTOR, Harness, ingest

pytestmark = pytest.mark.integration


async def test_stop_completes_the_evidence_once(harness: Harness, canary: str) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    await h.schedule("s1", "p1")
    created = await ingest(h, canary.encode() * 100)
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    at = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
    ledger = (ConsentLine(seq=7, kind="revoked", actor=MENTEE, at=at),
              ConsentLine(seq=8, kind="stopped", actor=MENTEE, at=at, reason="revoked"))
    stopped = new_envelope(RecordingStopped(session_id="s1", pairing_id="p1", recording_id="rec-1", reason="revoked",
                                            record_id=record_id, ledger=ledger), source="sessions", now=at)
    await h.rec.events.handle(stopped)
    await h.rec.events.handle(stopped)  # redelivered: nothing added twice
    # Another recording's stop (wrong recording id for this record) changes nothing.
    await h.rec.events.handle(new_envelope(RecordingStopped(
        session_id="s1", pairing_id="p1", recording_id="rec-other", reason="ended", record_id=record_id,
        ledger=(ConsentLine(seq=9, kind="stopped", actor="system", at=at, reason="ended"),)), source="sessions"))

    got = await h.client.get(f"/recordings/{record_id}", headers=h.h(MENTOR, "mentor"))
    assert got.status_code == 200, got.text
    evidence = got.json()["consent_evidence"]
    assert evidence["consent"][:2] == CONSENT
    assert [(line["seq"], line["kind"], line["actor"]) for line in evidence["consent"][2:]] == [
        (7, "revoked", MENTEE), (8, "stopped", MENTEE)]
    assert evidence["stopped"] == {"reason": "revoked", "at": at.isoformat()}


async def test_the_pair_sees_that_the_programme_ended_it_not_why(harness: Harness, canary: str) -> None:
    """A suspension (or signing out everywhere) is the suspended member's own business: the recording's
    evidence keeps it, the pair's view of it says only that the programme ended the call."""
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    await h.schedule("s1", "p1")
    created = await ingest(h, canary.encode() * 100)
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    at = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
    ledger = (ConsentLine(seq=7, kind="revoked", actor=MENTEE, at=at, reason="suspended"),
              ConsentLine(seq=8, kind="stopped", actor=MENTEE, at=at, reason="suspended"))
    await h.rec.events.handle(new_envelope(RecordingStopped(
        session_id="s1", pairing_id="p1", recording_id="rec-1", reason="suspended", record_id=record_id,
        ledger=ledger), source="sessions", now=at))
    for member, role in ((MENTOR, "mentor"), (MENTEE, "mentee")):
        got = await h.client.get(f"/recordings/{record_id}", headers=h.h(member, role))
        assert got.status_code == 200, got.text
        assert "suspended" not in got.text
        evidence = got.json()["consent_evidence"]
        assert [line["reason"] for line in evidence["consent"][2:]] == ["ended_by_programme"] * 2
        assert evidence["stopped"]["reason"] == "ended_by_programme"
    async with h.engine.connect() as conn:  # the stored evidence keeps the cause
        stored = (await conn.execute(sa.select(records.c.consent_evidence).where(records.c.id == record_id))).scalar()
    assert json.loads(stored)["stopped"]["reason"] == "suspended"
