"""Notes against real SeaweedFS, Redis and SQLite: sealing, versions, visibility, identifier warnings."""

from __future__ import annotations

import io
import logging

import pytest
import sqlalchemy as sa

from services.records.lifecycle.tables import record_objects
from shared.events import decode_envelope
from shared.logging import configure_logging
from tests.support.records import Harness

pytestmark = pytest.mark.integration

MENTOR, MENTEE, OTHER = "u-mentor", "u-mentee", "u-other"


async def _note(h: Harness, text: str, *, author: str = MENTEE, role: str = "mentee", visibility: str = "pair",
                **extra: object) -> dict[str, object]:
    resp = await h.client.post("/notes", headers=h.h(author, role),
                               json={"pairing_id": "p1", "text": text, "visibility": visibility, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def test_note_lifecycle_is_sealed_and_versioned(harness: Harness, canary: str) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    note = await _note(h, f"first {canary}")
    assert note["version"] == 1 and note["text"] == f"first {canary}" and note["retain_until"] is None
    nid = note["id"]
    got = await h.client.get(f"/notes/{nid}", headers=h.h(MENTOR, "mentor"))
    assert got.status_code == 200 and got.json()["text"] == f"first {canary}"

    upd = await h.client.put(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"),
                             json={"text": f"second {canary}", "expected_version": 1})
    assert upd.status_code == 200 and upd.json()["version"] == 2
    stale = await h.client.put(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"),
                               json={"text": "x", "expected_version": 1})
    assert stale.status_code == 409
    v1 = await h.client.get(f"/notes/{nid}", params={"version": 1}, headers=h.h(MENTEE, "mentee"))
    assert v1.json()["text"] == f"first {canary}" and v1.json()["version"] == 1
    versions = (await h.client.get(f"/notes/{nid}/versions", headers=h.h(MENTEE, "mentee"))).json()
    assert [v["version"] for v in versions] == [1, 2]

    # Every version is its own object under its own data key; no object holds the plaintext.
    raw = h.raw_objects()
    assert len(raw) == 2
    for key, data in raw.items():
        assert canary.encode() not in data and b"first" not in data
        assert key.startswith("o/") and MENTEE not in key and "p1" not in key
    async with h.engine.connect() as conn:
        rows = (await conn.execute(sa.select(record_objects).where(record_objects.c.record_id == nid))).all()
    assert len({r.wrapped_dek for r in rows}) == 2 and all(r.content_hash for r in rows)

    listed = (await h.client.get("/notes", params={"pairing_id": "p1"}, headers=h.h(MENTOR, "mentor"))).json()
    assert [n["id"] for n in listed] == [nid] and "text" not in listed[0]

    # Only the author may change or delete; deleting crypto-shreds at once.
    assert (await h.client.put(f"/notes/{nid}", headers=h.h(MENTOR, "mentor"), json={"text": "x"})).status_code == 403
    assert (await h.client.delete(f"/notes/{nid}", headers=h.h(MENTOR, "mentor"))).status_code == 403
    assert (await h.client.delete(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"))).status_code == 204
    assert h.raw_objects() == {}
    assert (await h.client.get(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"))).status_code == 410


async def test_private_notes_are_for_the_author_only(harness: Harness) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    note = await _note(h, "my own reflection", visibility="private")
    assert (await h.client.get(f"/notes/{note['id']}", headers=h.h(MENTEE, "mentee"))).status_code == 200
    assert (await h.client.get(f"/notes/{note['id']}", headers=h.h(MENTOR, "mentor"))).status_code == 404
    listed = (await h.client.get("/notes", params={"pairing_id": "p1"}, headers=h.h(MENTOR, "mentor"))).json()
    assert listed == []


async def test_patient_identifiers_need_confirmation_and_are_never_echoed(harness: Harness) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    text = "Discussed Mrs Smith 12/03/1985, NHS 943 476 5919, from SW1A 1AA"
    resp = await h.client.post("/notes", headers=h.h(MENTEE, "mentee"), json={"pairing_id": "p1", "text": text})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert {f["kind"] for f in body["findings"]} == {"date_of_birth", "nhs_number", "uk_postcode"}
    for needle in ("943 476 5919", "SW1A", "Smith", "12/03/1985"):
        assert needle not in resp.text
    nhs = next(f for f in body["findings"] if f["kind"] == "nhs_number")
    assert text[nhs["start"]:nhs["end"]] == "943 476 5919"
    assert h.raw_objects() == {}  # nothing stored before confirmation
    ok = await h.client.post("/notes", headers=h.h(MENTEE, "mentee"),
                             json={"pairing_id": "p1", "text": text, "confirm_identifiers": True})
    assert ok.status_code == 201


async def test_limits_and_bad_input(harness: Harness) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    big = "a" * (h.settings.max_note_bytes + 1)
    resp = await h.client.post("/notes", headers=h.h(MENTEE, "mentee"), json={"pairing_id": "p1", "text": big})
    assert resp.status_code == 413
    for body in ({"pairing_id": "p1"}, {"pairing_id": "p1", "text": ""}, {"pairing_id": "p1", "text": "x",
                                                                         "visibility": "public"},
                 {"pairing_id": "p1", "text": "x", "extra": 1}):
        resp = await h.client.post("/notes", headers=h.h(MENTEE, "mentee"), json=body)
        assert resp.status_code == 400, body
        assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await h.client.post("/notes", headers=h.h(MENTEE, "mentee"), content=b"{not json",
                               )
    assert resp.status_code == 400


async def test_ended_pairing_starts_the_note_clock_and_freezes_notes(harness: Harness) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    note = await _note(h, "before the end")
    await h.end_pairing("p1", MENTOR, MENTEE)
    got = (await h.client.get(f"/notes/{note['id']}", headers=h.h(MENTEE, "mentee"))).json()
    assert got["retain_until"] is not None
    resp = await h.client.post("/notes", headers=h.h(MENTEE, "mentee"), json={"pairing_id": "p1", "text": "late"})
    assert resp.status_code == 409
    resp = await h.client.put(f"/notes/{note['id']}", headers=h.h(MENTEE, "mentee"), json={"text": "late"})
    assert resp.status_code == 409


async def test_note_text_never_reaches_the_logs(harness: Harness, canary: str) -> None:
    h = harness
    buf = io.StringIO()
    configure_logging("debug", json=True, stream=buf, service="records")
    try:
        await h.pair("p1", MENTOR, MENTEE)
        note = await _note(h, f"log check {canary}")
        await h.client.get(f"/notes/{note['id']}", headers=h.h(MENTOR, "mentor"))
        await h.client.put(f"/notes/{note['id']}", headers=h.h(MENTEE, "mentee"), json={"text": f"v2 {canary}"})
        await h.client.post("/notes", headers=h.h(MENTEE, "mentee"),
                            json={"pairing_id": "p1", "text": f"{canary} NHS 943 476 5919"})
        await h.client.post("/notes", headers=h.h(MENTEE, "mentee"), json={"pairing_id": "p1", "text": canary,
                                                                          "bad": True})
        await h.client.delete(f"/notes/{note['id']}", headers=h.h(MENTEE, "mentee"))
    finally:
        logging.getLogger().handlers.clear()
    out = buf.getvalue()
    assert "records.note_created" in out and "records.shredded" in out  # the logs did capture the flow
    assert canary not in out and "943 476 5919" not in out


async def _note_events(h: Harness, note_id: str) -> list[str]:
    async with h.engine.connect() as conn:
        rows = [decode_envelope(r[0]) for r in await conn.execute(sa.text("SELECT envelope FROM outbox"))]
    return [e.type for e in rows if e.type.startswith("record.") and getattr(e.payload(), "record_id", "") == note_id]


async def test_a_private_note_is_announced_to_nobody_until_it_is_shared(harness: Harness) -> None:
    """record.created reaches both members' inboxes, so a private note must not raise it: its very
    existence is the author's. Sharing it is when the partner first may see it, and is told."""
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    note = await _note(h, "only mine", visibility="private")
    nid = str(note["id"])
    assert await _note_events(h, nid) == []
    assert (await h.client.put(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"),
                               json={"text": "still mine"})).status_code == 200
    assert await _note_events(h, nid) == []
    assert (await h.client.put(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"),
                               json={"text": "now ours", "visibility": "pair"})).status_code == 200
    assert await _note_events(h, nid) == ["record.created"]
    assert (await h.client.put(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"),
                               json={"text": "ours, edited"})).status_code == 200
    assert await _note_events(h, nid) == ["record.created"]  # already known to the pair: told once
    shared = await _note(h, "for both of us")
    assert await _note_events(h, str(shared["id"])) == ["record.created"]
