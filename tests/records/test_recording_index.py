"""A recorder's WebM is stored with its length and seek index: one sealed object (the first pass is
deleted), the same media frame for frame, Range playback as for any object; when the second pass
cannot be written, the recording is kept as it came."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import AsyncIterator

import av
import pytest
import sqlalchemy as sa
import urllib3
from minio import Minio

from deploy.local.children import free_port
from services.records.adapters.upload import SealedUpload
from services.records.lifecycle.tables import record_objects
from services.records.recordings.service import Recordings
from shared.crypto import ciphertext_size
from shared.objectstore import S3ObjectStore
from tests.support.logs import captured_json_logs
from tests.support.media import decode_all, recorder_webm
from tests.support.records import MENTEE, MENTOR, Harness, ingest, meta_header

pytestmark = pytest.mark.integration
SECONDS = 5.0


@pytest.fixture(scope="module")
def live() -> bytes:
    return recorder_webm(SECONDS)


def length_s(data: bytes) -> float | None:
    with av.open(io.BytesIO(data)) as c:
        return None if c.duration is None else c.duration / 1e6


async def test_a_recorders_webm_is_stored_with_its_length_and_cues(harness: Harness, live: bytes) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    await h.schedule("s1", "p1")
    assert length_s(live) is None
    resp = await ingest(h, live)
    assert resp.status_code == 201, resp.text
    answered = resp.json()
    # The recorder's answer comes before the second pass: the record as it came, no length yet.
    assert answered["size"] == len(live) and answered["duration_s"] is None
    member = h.h(MENTEE, "mentee")
    rec = (await h.client.get(f"/recordings/{answered['id']}", headers=member)).json()
    played = (await h.client.get(f"/recordings/{rec['id']}/content", headers=member)).content
    assert rec["size"] == len(played) > len(live)
    assert rec["duration_s"] == pytest.approx(SECONDS, abs=0.1)  # the list and the page show it
    assert length_s(played) == pytest.approx(SECONDS, abs=0.1)
    assert decode_all(played) == decode_all(live)
    # One object: the first pass was deleted; what the record keeps matches what is stored.
    (key, stored), = h.raw_objects().items()
    assert len(stored) == ciphertext_size(len(played), h.settings.segment_size)
    async with h.engine.connect() as conn:
        obj = (await conn.execute(sa.select(record_objects))).one()
    assert obj.object_key == key and obj.content_hash == hashlib.sha256(stored).hexdigest()
    # A player's first request: the head, with the cues, by Range.
    head = await h.client.get(f"/recordings/{rec['id']}/content", headers={**member, "range": "bytes=0-4095"})
    assert head.status_code == 206 and head.content == played[:4096] and b"\x1c\x53\xbb\x6b" in head.content


async def test_a_body_that_is_not_the_recorders_webm_is_kept_as_it_came(harness: Harness) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    await h.schedule("s1", "p1")
    body = b"\x1a\x45\xdf\xa3" + bytes(5000)
    with captured_json_logs("INFO", "records") as logs:
        resp = await ingest(h, body)
    assert resp.status_code == 201, resp.text
    played = await h.client.get(f"/recordings/{resp.json()['id']}/content", headers=h.h(MENTOR, "mentor"))
    assert played.content == body and len(h.raw_objects()) == 1 and resp.json()["duration_s"] is None
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert any(line.get("event") == "records.recording_unindexed" and line.get("reason") for line in lines)


def unreachable_store(bucket: str) -> S3ObjectStore:
    """A store nothing answers at (a refused connection, no retry): one that went down between the passes."""
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=2.0))
    client = Minio(f"127.0.0.1:{free_port()}", access_key="k", secret_key="s" * 8, secure=False, http_client=http)
    return S3ObjectStore(client, bucket, http)


async def test_when_the_second_pass_fails_the_recording_is_kept_unindexed(harness: Harness, live: bytes) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    await h.schedule("s1", "p1")
    working = h.rec.recordings
    refusing = unreachable_store(h.settings.s3_bucket)
    calls: list[str] = []

    def upload(key: str) -> SealedUpload:
        calls.append(key)
        store = working.vault.store if len(calls) == 1 else refusing
        return SealedUpload(store, key, part_size=h.settings.upload_part_size, parallel=1)  # type: ignore[arg-type]

    recordings: Recordings = dataclasses.replace(working, upload=upload)

    async def body() -> AsyncIterator[bytes]:
        for at in range(0, len(live), 65536):
            yield live[at:at + 65536]

    meta = recordings.metadata(meta_header())
    rec, indexing = await recordings.ingest("svc-sessions", meta, body(), None)
    assert indexing is not None and rec.size == len(live) and rec.duration_s is None
    assert not await indexing.run()
    assert len(calls) == 2
    (key, _), = h.raw_objects().items()
    assert key == calls[0]
    played = await h.client.get(f"/recordings/{rec.id}/content", headers=h.h(MENTEE, "mentee"))
    assert played.content == live

