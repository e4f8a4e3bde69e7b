"""The journal of open multipart uploads (`open_uploads`) and the sweep of what a failed or killed
recording upload left open, against SeaweedFS and the run's database: the sweeper finds leftovers
through the journal and aborts them through the store's public presigned API."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.records.adapters.upload import SealedUpload
from services.records.recordings.orphans import OpenUploads
from services.records.recordings.tables import open_uploads
from shared.objectstore import S3ObjectStore
from tests.support.records import Harness, ingest

pytestmark = pytest.mark.integration

PART = 5 * 1024 * 1024


def _store_uploads(store: S3ObjectStore) -> set[str]:
    # The SDK has no public listing of multipart uploads; this check of the test is its one private call.
    return {u.upload_id for u in store.client._list_multipart_uploads(bucket_name=store.bucket).uploads}


async def _journaled(h: Harness) -> dict[str, Any]:
    async with h.engine.connect() as conn:
        return {r.upload_id: r for r in (await conn.execute(sa.select(open_uploads))).all()}


async def _two_parts_sent(up: SealedUpload) -> None:
    await up.write(os.urandom(2 * PART + 1))  # two full parts go out: the multipart upload is open


async def test_an_upload_is_journaled_while_open_and_forgotten_when_it_completes_or_aborts(harness: Harness) -> None:
    h, store = harness, harness.rec.store
    journal = OpenUploads(h.engine)
    for end in ("finish", "abort"):
        up = SealedUpload(store, f"o/{end}", part_size=PART, parallel=2, journal=journal)
        await _two_parts_sent(up)
        rows = await _journaled(h)
        assert set(rows) == _store_uploads(store) and len(rows) == 1
        assert [r.object_key for r in rows.values()] == [f"o/{end}"]
        await (up.finish() if end == "finish" else up.abort())
        assert await _journaled(h) == {} and _store_uploads(store) == set()


async def test_the_sweeper_aborts_what_a_killed_upload_left_and_spares_live_ones(harness: Harness) -> None:
    h, store = harness, harness.rec.store
    t0 = datetime(2026, 12, 5, 9, tzinfo=UTC)
    now = [t0]
    journal = OpenUploads(h.engine, clock=lambda: now[0])
    dead = SealedUpload(store, "o/dead", part_size=PART, parallel=1, journal=journal)
    await _two_parts_sent(dead)  # then the process "dies": no finish, no abort
    now[0] = t0 + timedelta(hours=23)
    live = SealedUpload(store, "o/live", part_size=PART, parallel=1, journal=journal)
    await _two_parts_sent(live)
    assert len(_store_uploads(store)) == 2

    now[0] = t0 + timedelta(hours=24, seconds=1)
    assert await journal.abort_stale(store) == 1  # only the one older than any call can last
    assert set(await _journaled(h)) == _store_uploads(store) and len(_store_uploads(store)) == 1
    await live.finish()
    assert await journal.abort_stale(store) == 0
    assert await _journaled(h) == {} and _store_uploads(store) == set()
    assert [o.object_name for o in store.client.list_objects(bucket_name=store.bucket, recursive=True)] == ["o/live"]


async def test_a_leftover_the_store_already_dropped_is_simply_forgotten(harness: Harness) -> None:
    h, store = harness, harness.rec.store
    journal = OpenUploads(h.engine)
    up = SealedUpload(store, "o/gone", part_size=PART, parallel=1)  # not journaled
    await _two_parts_sent(up)
    await up.abort()
    await journal.opened("o/gone", "no-such-upload-id")  # as if the abort had not been noted
    assert await journal.abort_stale(store, older_than=timedelta(0)) == 1  # NoSuchUpload: nothing to do
    assert await _journaled(h) == {}


async def test_a_whole_object_left_behind_is_deleted_by_the_next_sweep(harness: Harness) -> None:
    # What the second pass of a recording (recordings/finishing.py) could not delete: the first object.
    h, store = harness, harness.rec.store
    store.put("o/first-pass", b"sealed bytes nobody can open")
    journal = OpenUploads(h.engine)
    await journal.left("o/first-pass")
    assert await journal.abort_stale(store) == 1
    assert not any(o.object_name == "o/first-pass"
                   for o in store.client.list_objects(bucket_name=store.bucket, recursive=True))
    assert await _journaled(h) == {}
    assert await journal.abort_stale(store) == 0


async def test_the_sweep_never_deletes_an_object_a_record_points_at(harness: Harness) -> None:
    # A journal row that outlived its reason (e.g. the indexed copy's, when the swap went through but the
    # row could not be cleared) must not cost the record its object.
    h, store = harness, harness.rec.store
    await h.pair("p1", "u-mentor", "u-mentee")
    await h.schedule("s1", "p1")
    resp = await ingest(h, b"not a webm, stored as it came")
    assert resp.status_code == 201, resp.text
    (key,) = h.raw_objects()
    journal = OpenUploads(h.engine)
    await journal.left(key)
    assert await journal.abort_stale(store) == 1
    assert list(h.raw_objects()) == [key] and await _journaled(h) == {}
    played = await h.client.get(f"/recordings/{resp.json()['id']}/content", headers=h.h("u-mentee", "mentee"))
    assert played.content == b"not a webm, stored as it came"
