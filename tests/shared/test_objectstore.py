"""The S3 adapter through the MinIO SDK against a real SeaweedFS server."""

from __future__ import annotations

import io
import secrets

import pytest

from deploy.local.children import S3Child
from shared.objectstore import ObjectNotFound, S3ObjectStore
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
