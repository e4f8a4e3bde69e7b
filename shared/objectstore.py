"""Object storage edge: S3 through the MinIO SDK, whatever the endpoint (SeaweedFS locally and in tests,
MinIO or AWS S3 in production). The SDK is synchronous; async callers go through `asyncio.to_thread`.
Object keys are random ids chosen by the caller: never names, e-mails or dates of people."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import urllib3
from minio import Minio
from minio.error import S3Error

from shared.settings import ObjectStoreSettings

MIN_PART_SIZE = 5 * 1024 * 1024


class ObjectNotFound(Exception):
    pass


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


class ObjectStore(Protocol):
    bucket: str

    def ensure_bucket(self, *, object_lock: bool = False) -> None: ...
    def put(self, key: str, data: bytes) -> ObjectInfo: ...
    def put_stream(self, key: str, reader: BinaryIO, *, part_size: int = MIN_PART_SIZE) -> ObjectInfo: ...
    def get(self, key: str) -> bytes: ...
    def get_range(self, key: str, offset: int, length: int) -> bytes: ...
    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]: ...
    def stat(self, key: str) -> ObjectInfo: ...
    def delete(self, key: str) -> None: ...
    def ping(self) -> None: ...


def s3_timeout(settings: ObjectStoreSettings) -> urllib3.Timeout:
    """Per request: connecting, each wait to send more of a body (urllib3 sends with the connect
    timeout), and each wait for the next byte of the answer. A store that is down or frozen fails a
    request within these, not the SDK's default five minutes."""
    return urllib3.Timeout(connect=settings.s3_connect_timeout_s, read=settings.s3_read_timeout_s)


def s3_retries(settings: ObjectStoreSettings) -> urllib3.Retry:
    """Retry what failed fast (refused connection, 5xx), never a timeout: a frozen store would turn each
    retry into another full timeout. Backoff stays under a second."""
    n = settings.s3_retries
    return urllib3.Retry(total=n, connect=n, read=0, status=n, other=0, backoff_factor=0.2, backoff_max=1.0,
                         status_forcelist=[500, 502, 503, 504], raise_on_status=False)


class S3ObjectStore:
    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: ObjectStoreSettings, bucket: str) -> S3ObjectStore:
        http = urllib3.PoolManager(timeout=s3_timeout(settings), maxsize=16, retries=s3_retries(settings))
        client = Minio(settings.s3_endpoint, access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                       secure=settings.s3_secure, region=settings.s3_region, http_client=http)
        return cls(client, bucket)

    def ensure_bucket(self, *, object_lock: bool = False) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket, object_lock=object_lock)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def put(self, key: str, data: bytes) -> ObjectInfo:
        result = self.client.put_object(self.bucket, key, io.BytesIO(data), len(data))
        return ObjectInfo(key, len(data), result.etag or "")

    def put_stream(self, key: str, reader: BinaryIO, *, part_size: int = MIN_PART_SIZE) -> ObjectInfo:
        """Multipart upload of unknown length; `reader.read(n)` must return at most n bytes."""
        result = self.client.put_object(self.bucket, key, reader, length=-1, part_size=part_size)
        return ObjectInfo(key, -1, result.etag or "")

    def get(self, key: str) -> bytes:
        return b"".join(self.iter_chunks(key))

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            resp = self.client.get_object(self.bucket, key, offset=offset, length=length)
        except S3Error as exc:
            raise self._translate(exc) from None
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        try:
            resp = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            raise self._translate(exc) from None
        try:
            yield from resp.stream(chunk_size)
        finally:
            resp.close()
            resp.release_conn()

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            raise self._translate(exc) from None
        return ObjectInfo(key, int(st.size or 0), st.etag or "")

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)

    def ping(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            raise ObjectNotFound(f"bucket {self.bucket} missing")

    @staticmethod
    def _translate(exc: S3Error) -> Exception:
        if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchVersion"):
            return ObjectNotFound(exc.code)
        return exc

    async def aping(self) -> None:
        await asyncio.to_thread(self.ping)
