"""The S3 adapter through the MinIO SDK against a real SeaweedFS server."""

from __future__ import annotations

import io
import logging
import secrets
from pathlib import Path

import pytest
from urllib3.exceptions import MaxRetryError

from deploy.local.children import S3Child, free_port
from shared.objectstore import ObjectNotFound, S3ObjectStore, StoreRequestFailed
from shared.settings import ObjectStoreSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def store(s3_server: S3Child) -> S3ObjectStore:
    settings = ObjectStoreSettings(s3_endpoint=s3_server.endpoint, s3_access_key=s3_server.access_key,
                                   s3_secret_key=s3_server.secret_key)
    s = S3ObjectStore.from_settings(settings, f"contract-{secrets.token_hex(4)}")
    s.ensure_bucket()
    s.ensure_bucket()  # idempotent
    return s


def test_put_get_range_stat_delete(store: S3ObjectStore) -> None:
    data = secrets.token_bytes(100_000)
    store.put("a", data)
    assert store.get("a") == data
    assert store.get_range("a", 1000, 50) == data[1000:1050]
    assert store.stat("a").size == len(data)
    store.delete("a")
    with pytest.raises(ObjectNotFound):
        store.get("a")
    with pytest.raises(ObjectNotFound):
        store.stat("a")
    store.ping()


def test_streaming_multipart_upload_of_unknown_length(store: S3ObjectStore) -> None:
    data = secrets.token_bytes(11 * 1024 * 1024 + 17)  # three parts of 5 MiB
    store.put_stream("big", io.BytesIO(data))
    assert store.stat("big").size == len(data)
    assert store.get_range("big", 5 * 1024 * 1024 - 3, 10) == data[5 * 1024 * 1024 - 3: 5 * 1024 * 1024 + 7]


def test_wrong_credentials_are_rejected(s3_server: S3Child) -> None:
    from minio.error import S3Error

    bad = S3ObjectStore.from_settings(ObjectStoreSettings(s3_endpoint=s3_server.endpoint, s3_access_key="nobody",
                                                          s3_secret_key="wrong"), "anything")
    with pytest.raises(S3Error):
        bad.ping()


def test_multipart_upload_driven_by_the_caller(store: S3ObjectStore) -> None:
    """start_upload, put_part (from any buffer), complete_upload: the parts in order; abort_upload of an
    upload that is gone is no error; a completion naming a part that was never sent fails."""
    parts = [secrets.token_bytes(5 * 1024 * 1024), secrets.token_bytes(1000)]
    upload_id = store.start_upload("mp")
    etags = [store.put_part("mp", upload_id, n, memoryview(bytearray(data))) for n, data in enumerate(parts, 1)]
    store.complete_upload("mp", upload_id, etags)
    assert store.get("mp") == b"".join(parts)
    store.abort_upload("mp", upload_id)  # completed: gone, which is what an abort wants

    upload_id = store.start_upload("never")
    etag = store.put_part("never", upload_id, 1, parts[1])
    with pytest.raises(StoreRequestFailed) as bad:
        store.complete_upload("never", upload_id, [etag, etag])  # part 2 was never sent
    assert bad.value.code and "X-Amz" not in str(bad.value)
    store.abort_upload("never", upload_id)
    store.abort_upload("never", upload_id)  # twice: no error
    with pytest.raises(StoreRequestFailed) as gone:
        store.put_part("never", upload_id, 2, parts[1])
    assert gone.value.code == "NoSuchUpload"
    with pytest.raises(ObjectNotFound):
        store.stat("never")


def test_a_retried_presigned_request_is_logged_without_its_query(caplog: pytest.LogCaptureFixture) -> None:
    """urllib3 logs the URL of a request it retries; a presigned URL's query (signature, access key id)
    never reaches the log."""
    settings = ObjectStoreSettings(s3_endpoint=f"127.0.0.1:{free_port()}", s3_access_key="tandem-key-id",
                                   s3_secret_key="s3cret", s3_retries=1)
    dead = S3ObjectStore.from_settings(settings, "nobody-home")
    with caplog.at_level(logging.WARNING, logger="urllib3"), pytest.raises(MaxRetryError):
        dead.start_upload("k")
    assert "Retrying" in caplog.text and "/nobody-home/k" in caplog.text
    assert "X-Amz" not in caplog.text and "tandem-key-id" not in caplog.text


def test_the_embedded_store_reports_nothing_to_seaweedfs_telemetry(s3_server: S3Child) -> None:
    # SeaweedFS's default is to send cluster statistics to telemetry.seaweedfs.com.
    args = Path(f"/proc/{s3_server.proc.pid}/cmdline").read_bytes().split(b"\0")
    assert b"-master.telemetry=false" in args
