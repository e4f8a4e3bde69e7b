"""Recordings: streaming ingest sealed on the fly into S3 multipart, Range playback, failure cleanup."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from services.records.lifecycle.tables import record_objects, records
from services.records.recordings.schemas import RecordingMetadata
from shared.crypto import ciphertext_size
from shared.objectstore import S3ObjectStore
from tests.support.records import CONSENT, MENTEE, MENTOR, Harness, ingest, meta_header

pytestmark = pytest.mark.integration

def media(size: int, canary: str) -> bytes:
    body = bytearray(os.urandom(size))
    c = canary.encode()
    for off in (0, size // 3, size // 2 + 7, size - len(c)):
        body[off:off + len(c)] = c
    return bytes(body)


class CountingStore(S3ObjectStore):
    """The real S3 adapter, counting the bytes range reads fetch."""

    fetched = 0

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        data = super().get_range(key, offset, length)
        CountingStore.fetched += len(data)
        return data


async def test_ingest_then_play_with_ranges(harness: Harness, canary: str) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    await h.schedule("s1", "p1")
    plaintext = media(11 * 1024 * 1024 + 123, canary)  # > 2 parts of 5 MiB: a real multipart upload
    resp = await ingest(h, plaintext)
    assert resp.status_code == 201, resp.text
    rec = resp.json()
    assert rec["size"] == len(plaintext) and rec["media_type"] == "video/webm"
    assert rec["consent_evidence"]["consent"] == CONSENT and rec["consent_evidence"]["recording_id"] == "rec-1"
    assert rec["retain_until"].startswith("2027-02-20")  # 90 days from capture

    raw = h.raw_objects()
    assert len(raw) == 1
    (key, stored), = raw.items()
    assert canary.encode() not in stored
    assert len(stored) == ciphertext_size(len(plaintext), h.settings.segment_size)
    async with h.engine.connect() as conn:
        obj = (await conn.execute(sa.select(record_objects))).one()
    assert obj.content_hash == hashlib.sha256(stored).hexdigest() and obj.object_key == key
    assert "s1" not in key and "p1" not in key
    stat = h.minio().stat_object(h.settings.s3_bucket, key)
    assert not {k.lower() for k in (stat.metadata or {})} & {"x-amz-meta-session", "x-amz-meta-pairing"}

    rid = rec["id"]
    member = h.h(MENTEE, "mentee")
    full = await h.client.get(f"/recordings/{rid}/content", headers=member)
    assert full.status_code == 200 and full.content == plaintext
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-type"].startswith("video/webm")
    n = len(plaintext)
    seg = h.settings.segment_size
    for header, (start, end) in {
        "bytes=0-99": (0, 99), f"bytes={seg - 3}-{seg + 3}": (seg - 3, seg + 3), "bytes=-1000": (n - 1000, n - 1),
        f"bytes={n - 10}-": (n - 10, n - 1), f"bytes={n // 2}-{n // 2 + 3 * 1024 * 1024}": (n // 2, n // 2 + 3145728),
        f"bytes={n - 1}-{n + 50}": (n - 1, n - 1),
    }.items():
        part = await h.client.get(f"/recordings/{rid}/content", headers={**member, "range": header})
        assert part.status_code == 206, header
        assert part.content == plaintext[start:end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{n}"
        assert int(part.headers["content-length"]) == end - start + 1
    bad = await h.client.get(f"/recordings/{rid}/content", headers={**member, "range": f"bytes={n}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{n}"

    # A small range reads only the segments that cover it, not the object.
    h.app_rec.vault.store = CountingStore(h.rec.vault.store.client, h.settings.s3_bucket)  # type: ignore[attr-defined]
    CountingStore.fetched = 0
    part = await h.client.get(f"/recordings/{rid}/content", headers={**member, "range": f"bytes={n // 2}-{n // 2 + 9}"})
    assert part.content == plaintext[n // 2:n // 2 + 10]
    assert 0 < CountingStore.fetched <= 3 * (seg + 64)

    listed = (await h.client.get("/recordings", params={"pairing_id": "p1"}, headers=h.h(MENTOR, "mentor"))).json()
    assert [r["id"] for r in listed] == [rid]
    async with h.engine.connect() as conn:
        envs = [r[0] for r in await conn.execute(sa.text("SELECT envelope FROM outbox"))]
    assert any(b"record.created" in e and rid.encode() in e for e in envs)


async def test_ingest_refusals_store_nothing(harness: Harness) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    await h.pair("p2", "m2", "e2")
    await h.schedule("s1", "p1")
    for roles in (["mentee"], ["mentor"], ["admin"], ["operator"], ["safeguarding"]):
        resp = await h.client.post("/internal/recordings", content=b"x",
                                   headers={**h.h("u", *roles), "tandem-recording": meta_header()})
        assert resp.status_code == 403, roles
    assert (await ingest(h, b"abc", **{"tandem-recording": ""})).status_code == 400
    assert (await ingest(h, b"abc", **{"tandem-recording": "%%%"})).status_code == 400
    assert (await ingest(h, b"abc", **{"tandem-recording": meta_header(session_id="")})).status_code == 400
    assert (await ingest(h, b"abc", **{"tandem-recording": meta_header(pairing_id="p2")})).status_code == 422
    assert (await ingest(h, b"")).status_code == 400
    assert h.raw_objects() == {}
    async with h.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(records))).scalar_one() == 0


async def _failing_body(chunks: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(chunks):
        yield os.urandom(size)
    raise ConnectionResetError("client went away")


async def test_aborted_or_oversized_upload_leaves_no_object_and_no_record(harness: Harness) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    meta = RecordingMetadata(session_id="s1", pairing_id="p1", consent_evidence=CONSENT)
    with pytest.raises(ConnectionResetError):
        # 12 MiB then a failure: parts were already uploaded when the client vanished.
        await h.rec.recordings.ingest("svc", meta, _failing_body(192, 65536), None)
    object.__setattr__(h.settings, "max_recording_bytes", 6 * 1024 * 1024)
    resp = await ingest(h, os.urandom(7 * 1024 * 1024))
    assert resp.status_code == 413
    assert h.raw_objects() == {}
    client = h.minio()
    assert list(client._list_multipart_uploads(h.settings.s3_bucket).uploads) == []  # type: ignore[attr-defined]
    async with h.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(record_objects))).scalar_one() == 0


async def test_tampered_object_fails_closed_without_details(harness: Harness, canary: str) -> None:
    h = harness
    await h.pair("p1", MENTOR, MENTEE)
    resp = await h.client.post("/notes", headers=h.h(MENTEE, "mentee"), json={"pairing_id": "p1", "text": canary})
    nid = resp.json()["id"]
    (key, stored), = h.raw_objects().items()
    flipped = bytearray(stored)
    flipped[-20] ^= 1
    h.minio().put_object(h.settings.s3_bucket, key, io.BytesIO(bytes(flipped)), len(flipped))
    got = await h.client.get(f"/notes/{nid}", headers=h.h(MENTEE, "mentee"))
    assert got.status_code == 500 and got.headers["content-type"].startswith("application/problem+json")
    assert canary not in got.text and "Decryption" not in got.text
