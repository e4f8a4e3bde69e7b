"""Sweeps: acknowledgement deadlines publish report.overdue once; closed reports past retention are
crypto-shredded (keys, sealed columns, objects) unless on legal hold."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

import pytest
from minio import Minio
from minio.error import S3Error
from redis.asyncio import Redis

from deploy.local.children import S3Child
from tests.support.reports import Api
from tests.support.reports_dump import db_dump, stream_events

pytestmark = pytest.mark.integration

FRIDAY = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


async def _wait_types(redis: Redis, stream: str, n: int) -> list[str]:
    """Event types, one per event id (the outbox may publish a row twice; consumers dedupe by id)."""
    for _ in range(100):
        events = {e.id: e for e in await stream_events(redis, stream)}
        if len(events) >= n:
            return [e.type for e in events.values()]
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {n} events on {stream}")


async def test_overdue_acknowledgement_raises_an_event_once(api: Api, redis: Redis) -> None:
    api.clock.at = FRIDAY
    late = (await api.file(api.as_("mentee-1", "mentee")))["id"]
    acked = (await api.file(api.as_("mentee-2", "mentee"), urgent=True))["id"]
    sg = api.as_("officer-1", "safeguarding")
    assert (await api.client.post(f"/cases/{acked}/transitions", json={"to": "acknowledged"},
                                  headers=sg)).status_code == 200
    case = (await api.client.get(f"/cases/{late}", headers=sg)).json()["case"]
    assert case["ack_due_at"].startswith("2026-11-24T15:00")  # two working days after a Friday: Tuesday

    flag_overdue = api.ctx.retention.flag_overdue
    monday = FRIDAY + timedelta(days=3)
    assert await api.in_app(flag_overdue, monday) == []
    wednesday = FRIDAY + timedelta(days=5)
    assert await api.in_app(flag_overdue, wednesday) == [late]
    assert await api.in_app(flag_overdue, wednesday + timedelta(hours=1)) == []  # only once
    await api.relay()
    types = await _wait_types(redis, "tandem.report", 4)
    assert sorted(types) == ["report.filed", "report.filed", "report.overdue", "report.urgent"]
    overdue = next(e for e in await stream_events(redis, "tandem.report") if e.type == "report.overdue")
    assert overdue.payload().report_id == late
    api.clock.at = wednesday
    assert (await api.client.get(f"/cases/{late}", headers=sg)).json()["case"]["overdue"] is True


async def test_expiry_shreds_closed_reports_and_spares_held_ones(api: Api, s3_server: S3Child, redis: Redis) -> None:
    sg = api.as_("officer-1", "safeguarding")
    api.clock.at = FRIDAY
    attachment = [{"filename": "e.txt", "media_type": "text/plain", "content": base64.b64encode(b"evidence").decode()}]
    expired = (await api.file(api.as_("mentee-1", "mentee"), attachments=attachment, person_id="mentor-9"))["id"]
    held = (await api.file(api.as_("mentee-2", "mentee"), attachments=attachment))["id"]
    still_open = (await api.file(api.as_("mentee-3", "mentee")))["id"]
    anon_receipt = (await api.file(api.public()))["receipt"]
    anon = next(c["id"] for c in (await api.client.get("/cases", headers=sg)).json()
            if c["id"] not in (expired, held, still_open))
    for rid in (expired, held, anon):
        assert (await api.client.post(f"/cases/{rid}/notes", json={"text": "note"}, headers=sg)).status_code == 201
        for step in ("acknowledged", "investigating", "closed"):
            assert (await api.client.post(f"/cases/{rid}/transitions", json={"to": step}, headers=sg)
                    ).status_code == 200
    assert (await api.client.put(f"/cases/{held}/legal-hold", json={"hold": True, "reason": "tribunal pending"},
                                 headers=sg)).json()["legal_hold"] is True

    before = {r["id"]: r for t, r in await db_dump(api.settings.database_url) if t == "report_attachments"}
    keys = {r["report_id"]: r["object_key"] for r in before.values()}
    expire = api.ctx.retention.expire
    too_early = FRIDAY + timedelta(days=api.settings.retention_days - 1)
    assert await api.in_app(expire, too_early) == []
    later = FRIDAY + timedelta(days=api.settings.retention_days + 1)
    assert sorted(await api.in_app(expire, later)) == sorted([expired, anon])
    # The expiry's audit entry is hidden from the report's subject, like every entry about the report.
    expiries = {e.payload().target: e.payload().hidden_from for e in await stream_events(redis, "tandem.audit")
                if e.payload().action == "report.expired"}
    assert expiries == {f"report:{expired}": ("mentor-9",), f"report:{anon}": ()}

    rows = await db_dump(api.settings.database_url)
    tomb = next(r for t, r in rows if t == "reports" and r["id"] == expired)
    assert tomb["shredded_at"] is not None and tomb["category"] == "boundary"
    for column in ("wrapped_dek", "sealed_body", "kek_version", "reporter_tag", "subject_tag", "lookup_id",
                   "receipt_hash", "assignee_id"):
        assert tomb[column] is None, column
    assert not [r for t, r in rows if t != "reports" and r.get("report_id") in (expired, anon)]
    assert [r for t, r in rows if t == "report_entries" and r["report_id"] == held]  # held: untouched
    client = Minio(s3_server.endpoint, access_key=s3_server.access_key, secret_key=s3_server.secret_key,
                   secure=False)
    with pytest.raises(S3Error):
        await asyncio.to_thread(client.stat_object, api.settings.s3_bucket, keys[expired])
    await asyncio.to_thread(client.stat_object, api.settings.s3_bucket, keys[held])

    api.clock.at = later
    for rid in (expired, anon):
        assert (await api.client.get(f"/cases/{rid}", headers=sg)).status_code == 404
    assert (await api.client.get(f"/mine/{expired}", headers=api.as_("mentee-1", "mentee"))).status_code == 404
    assert (await api.client.get("/receipt", headers=api.public(**{api.settings.receipt_header: anon_receipt}))
            ).status_code == 404
    assert (await api.client.get(f"/cases/{held}", headers=sg)).status_code == 200
    assert (await api.client.get(f"/cases/{still_open}", headers=sg)).status_code == 200

    # Releasing the hold lets the next sweep expire it.
    await api.client.put(f"/cases/{held}/legal-hold", json={"hold": False, "reason": "tribunal over"}, headers=sg)
    assert await api.in_app(expire, later) == [held]
    with pytest.raises(S3Error):
        await asyncio.to_thread(client.stat_object, api.settings.s3_bucket, keys[held])
