"""Retention sweep, legal hold, erasure requests and signed receipts, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.records import cli
from services.records.adapters.receipts import digest
from services.records.lifecycle.tables import record_objects, records
from services.records.retention.service import Retention
from shared.crypto.signing import verify
from shared.events import decode_envelope
from shared.events.types import PairingActivated, UserErasureRequested
from tests.support.records import Harness, meta_header, open_harness

pytestmark = pytest.mark.integration

MENTOR, MENTEE = "u-mentor", "u-mentee"


async def _note(h: Harness, text: str, author: str = MENTEE, role: str = "mentee") -> str:
    resp = await h.client.post("/notes", headers=h.h(author, role),
                               json={"pairing_id": "p1", "text": text, "visibility": "pair"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def _recording(h: Harness, session_id: str, started: datetime, data: bytes) -> str:
    meta = meta_header(session_id=session_id, started_at=started.isoformat())
    resp = await h.client.post("/internal/recordings", content=data,
                               headers={**h.h("svc", "service"), "tandem-recording": meta})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def _outbox(h: Harness) -> list[Any]:
    async with h.engine.connect() as conn:
        return [decode_envelope(bytes(r[0])) for r in await conn.execute(sa.text("SELECT envelope FROM outbox"))]


async def test_sweep_shreds_due_records_and_spares_held_ones(db_harness: Harness) -> None:
    h = db_harness
    now = datetime.now(UTC)
    await h.pair("p1", MENTOR, MENTEE)
    note_a, note_b = await _note(h, "alpha"), await _note(h, "beta", MENTOR, "mentor")
    old, held = (await _recording(h, "s1", now - timedelta(days=91), os.urandom(50_000)),
                 await _recording(h, "s2", now - timedelta(days=95), os.urandom(20_000)))
    fresh = await _recording(h, "s3", now - timedelta(days=3), os.urandom(10_000))
    await h.end_pairing("p1", MENTOR, MENTEE, at=now - timedelta(days=366))
    assert await h.rec.lifecycle.place_hold(session_id="s2", actor="admin-1") == 1

    # The CLI runs the same sweep once (its events wait in the outbox for the service's relay).
    buf = io.StringIO()
    assert await asyncio.to_thread(cli.main, ["retention", "sweep"], settings=h.settings, out=buf) == 0
    assert "3 expired" in buf.getvalue()
    assert (await h.rec.retention.sweep_once()).expired == []  # nothing left to do

    member = h.h(MENTEE, "mentee")
    for path in (f"/notes/{note_a}", f"/notes/{note_b}", f"/recordings/{old}", f"/recordings/{old}/content"):
        assert (await h.client.get(path, headers=member)).status_code == 410, path
    assert (await h.client.get(f"/recordings/{held}/content", headers=member)).status_code == 200
    assert (await h.client.get(f"/recordings/{fresh}/content", headers=member)).status_code == 200
    assert len(h.raw_objects()) == 2  # only the held and the fresh recording

    jwk = (await h.client.get("/retention/receipt-jwks", headers=member)).json()["keys"][0]
    public = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    async with h.engine.connect() as conn:
        objs = {r.record_id: r for r in await conn.execute(sa.select(record_objects))}
        rows = {r.id: r for r in await conn.execute(sa.select(records))}
    for rid in (note_a, note_b, old):
        assert objs[rid].wrapped_dek is None and objs[rid].object_key is None
        row = rows[rid]
        assert row.state == "expired" and row.pairing_id is None and row.author_id is None
        assert row.consent_evidence is None and row.session_id is None
        receipt = json.loads(row.receipt)
        assert digest(receipt) == row.receipt_digest
        assert verify(public, bytes.fromhex(row.receipt_digest),
                      base64.urlsafe_b64decode(row.receipt_signature + "=" * (-len(row.receipt_signature) % 4)))
        assert receipt["signer"] == jwk["kid"]
        assert MENTEE not in row.receipt and MENTOR not in row.receipt
    assert objs[held].wrapped_dek is not None

    expired = [e for e in await _outbox(h) if e.type == "record.expired"]
    assert sorted(e.payload().record_id for e in expired) == sorted([note_a, note_b, old])
    audits = [e.payload() for e in await _outbox(h) if e.type == "audit.entry"]
    assert {"record.retention", "record.legal_hold.placed"} <= {a.action for a in audits}

    # A hold refuses erasure; lifting it lets the next sweep expire the record.
    assert (await h.client.delete(f"/recordings/{held}", headers=member)).status_code == 409
    await h.rec.lifecycle.release_hold(record_ids=[held])
    assert (await h.rec.retention.sweep_once()).expired == [held]
    assert (await h.client.get(f"/recordings/{held}/content", headers=member)).status_code == 410


async def test_concurrent_sweepers_expire_each_record_once(db_harness: Harness) -> None:
    h = db_harness
    await h.pair("p1", MENTOR, MENTEE)
    ids = [await _note(h, f"n{i}") for i in range(6)]
    await h.end_pairing("p1", MENTOR, MENTEE, at=datetime.now(UTC) - timedelta(days=400))
    others = [Retention(engine=h.engine, lifecycle=h.rec.lifecycle, settings=h.settings, instance=f"sweeper-{i}")
              for i in range(2)]
    object.__setattr__(h.settings, "sweep_batch", 2)
    results = await asyncio.gather(*(o.sweep_once() for o in others))
    done = [rid for r in results for rid in r.expired]
    assert sorted(done) == sorted(ids)
    expired = [e for e in await _outbox(h) if e.type == "record.expired"]
    assert len(expired) == 6


async def test_erasure_request_over_the_bus(harness: Harness) -> None:
    h = harness
    assert h.outbox is not None
    bus = h.outbox.bus
    await bus.publish(PairingActivated(pairing_id="p1", mentor_id=MENTOR, mentee_id=MENTEE))
    for _ in range(200):
        resp = await h.client.get("/notes", params={"pairing_id": "p1"}, headers=h.h(MENTEE, "mentee"))
        if resp.status_code == 200:
            break
        await asyncio.sleep(0.05)
    mine = await _note(h, "mine")
    theirs = await _note(h, "theirs", MENTOR, "mentor")
    rec = await _recording(h, "s1", datetime.now(UTC), os.urandom(5000))
    kept = await _recording(h, "s2", datetime.now(UTC), os.urandom(5000))
    await h.rec.lifecycle.place_hold(record_ids=[kept])
    await bus.publish(UserErasureRequested(user_id=MENTEE, request_id="er-1"))
    member = h.h(MENTOR, "mentor")
    for _ in range(200):
        if (await h.client.get(f"/recordings/{rec}", headers=member)).status_code == 410:
            break
        await asyncio.sleep(0.05)
    assert (await h.client.get(f"/notes/{mine}", headers=member)).status_code == 410
    assert (await h.client.get(f"/recordings/{rec}", headers=member)).status_code == 410
    assert (await h.client.get(f"/notes/{theirs}", headers=member)).status_code == 200
    assert (await h.client.get(f"/recordings/{kept}", headers=member)).status_code == 200


async def test_background_sweeper_and_lifecycle_backstop(settings_factory: Any, db_url: str,
                                                         issuer: Any, s3_server: Any) -> None:
    settings = settings_factory(db_url, sweep_interval_s=0.2, lifecycle_backstop_days=3650)
    async for h in open_harness(settings, issuer, s3_server):
        await h.pair("p1", MENTOR, MENTEE)
        nid = await _note(h, "soon gone")
        await h.end_pairing("p1", MENTOR, MENTEE, at=datetime.now(UTC) - timedelta(days=400))
        for _ in range(100):
            if (await h.client.get(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"))).status_code == 410:
                break
            await asyncio.sleep(0.1)
        assert (await h.client.get(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"))).status_code == 410
        assert h.raw_objects() == {}
        # Best effort: where the store supports lifecycle rules, the backstop is installed.
        try:
            config = h.minio().get_bucket_lifecycle(h.settings.s3_bucket)
        except Exception:  # noqa: BLE001 - a store without lifecycle support: nothing to check
            config = None
        if config is not None:
            assert any(r.rule_id == "tandem-records-backstop" for r in config.rules)
