"""Contract test of the recording upload adapter against SeaweedFS: it drives the multipart upload itself
through the object store's presigned requests (parts sent without a payload digest), so these tests pin
what it must keep doing."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from minio import Minio

from deploy.local.children import S3Child
from services.records.adapters.upload import SealedUpload, UploadAborted
from services.records.lifecycle.tables import record_objects
from services.records.recordings.schemas import RecordingMetadata
from shared.crypto import ciphertext_size
from shared.objectstore import PRESIGNED_FOR, S3ObjectStore, StoreRequestFailed
from tests.support.records import Harness

pytestmark = pytest.mark.integration

PART = 5 * 1024 * 1024


def _minio(s3: S3Child, secret: str | None = None) -> Minio:
    return Minio(endpoint=s3.endpoint, access_key=s3.access_key, secret_key=secret or s3.secret_key, secure=False,
                 region="us-east-1")  # as from settings: no region lookup, which a wrong secret would fail first


@pytest.fixture
def store(s3_server: S3Child) -> Iterator[S3ObjectStore]:
    st = S3ObjectStore(_minio(s3_server), f"upload-{secrets.token_hex(4)}")
    st.ensure_bucket()
    yield st
    for obj in st.client.list_objects(bucket_name=st.bucket, recursive=True):
        st.client.remove_object(bucket_name=st.bucket, object_name=obj.object_name)
    st.client.remove_bucket(bucket_name=st.bucket)


def _stored(store: S3ObjectStore) -> dict[str, bytes]:
    return {o.object_name: store.get(o.object_name)
            for o in store.client.list_objects(bucket_name=store.bucket, recursive=True)}


def _open_uploads(store: S3ObjectStore) -> list[Any]:
    # The SDK has no public listing of multipart uploads; this check of the test is the one private call.
    return list(store.client._list_multipart_uploads(bucket_name=store.bucket).uploads)


@pytest.mark.parametrize("parallel", [1, 2])
async def test_part_boundaries_and_content_hash(store: S3ObjectStore, parallel: int) -> None:
    """Exactly the bytes written are stored, across part boundaries, and the hash is theirs."""
    for size in (0, 1, PART - 1, PART, PART + 1, 2 * PART + 1, 3 * PART):
        data = os.urandom(size)
        up = SealedUpload(store, f"o/b-{size}", part_size=PART, parallel=parallel)
        step = 70_000 if size < 2 * PART else PART + 12_345  # small writes, and writes spanning parts
        for off in range(0, size, step):
            await up.write(data[off:off + step])
        assert up.size == size
        assert await up.finish() == hashlib.sha256(data).hexdigest(), size
        assert store.get(f"o/b-{size}") == data, size
        assert up._made <= parallel + 1  # the part buffers are reused: memory is flat in size
    assert _open_uploads(store) == []


async def test_reserved_space_and_writes_are_stored_in_order(store: S3ObjectStore) -> None:
    """What the sealer seals in place (reserve) and what is written interleave across parts, in order."""
    data = os.urandom(2 * PART + 777)
    up = SealedUpload(store, "o/reserved", part_size=PART, parallel=2)
    assert up.reserve(10) is None  # no part is being filled yet
    reserved = 0
    for off in range(0, len(data), 65_552):
        piece = data[off:off + 65_552]
        view = up.reserve(len(piece))
        if view is None:  # no room left in this part (a reservation never completes one): written
            await up.write(piece)
        else:
            view[:] = piece
            reserved += 1
    assert reserved > 2 * (PART // 65_552) - 4 and up.size == len(data)
    assert await up.finish() == hashlib.sha256(data).hexdigest()
    assert store.get("o/reserved") == data
    assert up.reserve(10) is None  # finished


async def test_parts_are_hashed_once(store: S3ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts go out as presigned requests (no payload digest): the only SHA-256 over them is the content
    hash. Counts every byte any SHA-256 is fed, whoever feeds it (the SDK's hashing helpers change)."""
    fed = [0]
    real = hashlib.sha256

    class Counting:
        def __init__(self, data: Any = b"", **kw: Any) -> None:
            self._hash = real(data, **kw)
            fed[0] += memoryview(data).nbytes

        def update(self, data: Any) -> None:
            fed[0] += memoryview(data).nbytes
            self._hash.update(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._hash, name)

    monkeypatch.setattr(hashlib, "sha256", Counting)
    data = os.urandom(3 * PART + 5)
    up = SealedUpload(store, "o/unsigned", part_size=PART, parallel=2)
    await up.write(data)
    await up.finish()
    monkeypatch.undo()
    assert store.get("o/unsigned") == data
    assert len(data) <= fed[0] < len(data) + 64 * 1024  # the content hash; then small signing inputs


async def test_part_requests_stay_authenticated(store: S3ObjectStore, s3_server: S3Child) -> None:
    """Without a payload digest the part request is still signed: a wrong secret is refused, and so is a
    signed request whose part number was changed."""
    upload_id = store.start_upload("o/signed")
    try:
        bad = S3ObjectStore(_minio(s3_server, secret="wrong-" + secrets.token_hex(8)), store.bucket)
        with pytest.raises(StoreRequestFailed) as refused:
            bad.put_part("o/signed", upload_id, 1, memoryview(os.urandom(PART)))
        assert refused.value.status == 403
        url = store.client.get_presigned_url(method="PUT", bucket_name=store.bucket, object_name="o/signed",
                                             expires=PRESIGNED_FOR,
                                             extra_query_params={"partNumber": "1", "uploadId": upload_id})
        assert "partNumber=1&" in url
        assert store.http.urlopen("PUT", url.replace("partNumber=1&", "partNumber=2&"), body=b"x").status == 403
        data = os.urandom(PART)
        store.complete_upload("o/signed", upload_id, [store.put_part("o/signed", upload_id, 1, memoryview(data))])
    except BaseException:
        store.abort_upload("o/signed", upload_id)
        raise
    assert _stored(store) == {"o/signed": data}  # only the part sent with the right secret and number


async def test_failed_part_aborts_everything(store: S3ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    up = SealedUpload(store, "o/fails", part_size=PART, parallel=2)
    real = up._upload_part

    def third_fails(number: int, data: memoryview) -> str:
        if number == 3:
            raise OSError("connection reset")
        return real(number, data)

    monkeypatch.setattr(up, "_upload_part", third_fails)
    with pytest.raises(UploadAborted):
        for _ in range(6):
            await up.write(os.urandom(PART // 2 + 1))
        await up.finish()
    await up.abort()
    assert _open_uploads(store) == [] and _stored(store) == {}
    with pytest.raises(UploadAborted):
        await up.write(b"more")


async def test_abort_midway_leaves_nothing(store: S3ObjectStore) -> None:
    up = SealedUpload(store, "o/aborted", part_size=PART, parallel=2)
    await up.write(os.urandom(2 * PART + 100))
    await up.abort()
    await up.abort()  # idempotent
    assert _open_uploads(store) == [] and _stored(store) == {}
    with pytest.raises(UploadAborted):
        await up.finish()


def test_only_s3_stores() -> None:
    with pytest.raises(TypeError):
        SealedUpload(object(), "o/x", part_size=PART, parallel=2)  # type: ignore[arg-type]


async def test_ingest_in_odd_chunk_sizes_round_trips(harness: Harness) -> None:
    """The ingest loop feeds the sealer segment-aligned slices of whatever chunks arrive: the object
    must be the same v1 stream as sealing the whole body at once (size, content hash, plaintext)."""
    h = harness
    await h.pair("p1", "u-mentor", "u-mentee")
    await h.schedule("s1", "p1")
    seg = h.settings.segment_size
    sizes = [1, seg - 1, 1, seg, seg + 1, 300_000, 3, PART + 12_345, 2 * seg, 4 * seg + 7, 5]
    plaintext = os.urandom(sum(sizes))

    async def body() -> AsyncIterator[bytes]:
        off = 0
        for n in sizes:
            yield plaintext[off:off + n]
            off += n

    meta = RecordingMetadata(session_id="s1", pairing_id="p1", consent_evidence=[])
    rec, indexing = await h.rec.recordings.ingest("svc", meta, body(), None)
    assert indexing is None  # random bytes are no WebM: stored as they came
    (stored,) = _stored(h.rec.store).values()  # type: ignore[arg-type]
    assert len(stored) == ciphertext_size(len(plaintext), seg)
    async with h.engine.connect() as conn:
        obj = (await conn.execute(sa.select(record_objects))).one()
    assert obj.content_hash == hashlib.sha256(stored).hexdigest()
    got = await h.client.get(f"/recordings/{rec.id}/content", headers=h.h("u-mentee", "mentee"))
    assert got.status_code == 200 and got.content == plaintext
