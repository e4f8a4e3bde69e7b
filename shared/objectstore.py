"""Object storage edge: S3 through the MinIO SDK, whatever the endpoint (SeaweedFS locally and in tests,
MinIO or AWS S3 in production). The SDK is synchronous; async callers go through `asyncio.to_thread`.
Object keys are random ids chosen by the caller: never names, e-mails or dates of people."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO, Protocol
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import urllib3
from minio import Minio
from minio.error import S3Error

from shared.crypto.primitives import Buffer
from shared.settings import ObjectStoreSettings

MIN_PART_SIZE = 5 * 1024 * 1024
PRESIGNED_FOR = timedelta(minutes=15)  # a presigned request is sent at once; this covers clock skew


class ObjectNotFound(Exception):
    pass


class StoreRequestFailed(Exception):
    """A presigned S3 request was answered with an error: its HTTP status and S3 code, never its message
    (messages can carry URLs)."""

    def __init__(self, status: int, code: str | None) -> None:
        super().__init__(f"S3 request failed: HTTP {status} {code or ''}".rstrip())
        self.status = status
        self.code = code


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


class _HidePresignedQueries(logging.Filter):
    """urllib3 logs a request's URL when it retries it. A presigned URL's query is its credential (the
    request's signature and the access key id): it is cut from the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(arg.partition("?")[0] if isinstance(arg, str) and "X-Amz-Signature=" in arg
                                else arg for arg in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_HidePresignedQueries())


class S3ObjectStore:
    """Through the SDK's public API only, every call by keyword (its 8.x API takes keywords only).
    Multipart uploads driven by the caller (`start_upload`, `put_part`, `complete_upload`,
    `abort_upload`) are plain S3 requests that the SDK presigns (`get_presigned_url`) and `http` sends:
    a part goes out as it is, from any buffer, hashed by nobody (a presigned request's payload is
    UNSIGNED-PAYLOAD); the request itself (method, key, part number, upload id, expiry) is signed."""

    def __init__(self, client: Minio, bucket: str, http: urllib3.PoolManager | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.http = http or urllib3.PoolManager(maxsize=16)  # from_settings: the pool the client uses too

    @classmethod
    def from_settings(cls, settings: ObjectStoreSettings, bucket: str) -> S3ObjectStore:
        http = urllib3.PoolManager(timeout=s3_timeout(settings), maxsize=16, retries=s3_retries(settings))
        client = Minio(endpoint=settings.s3_endpoint, access_key=settings.s3_access_key,
                       secret_key=settings.s3_secret_key, secure=settings.s3_secure, region=settings.s3_region,
                       http_client=http)
        return cls(client, bucket, http)

    def ensure_bucket(self, *, object_lock: bool = False) -> None:
        if not self.client.bucket_exists(bucket_name=self.bucket):
            try:
                self.client.make_bucket(bucket_name=self.bucket, object_lock=object_lock)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def put(self, key: str, data: bytes) -> ObjectInfo:
        result = self.client.put_object(bucket_name=self.bucket, object_name=key, data=io.BytesIO(data),
                                        length=len(data))
        return ObjectInfo(key, len(data), result.etag or "")

    def put_stream(self, key: str, reader: BinaryIO, *, part_size: int = MIN_PART_SIZE) -> ObjectInfo:
        """Multipart upload of unknown length; `reader.read(n)` must return at most n bytes."""
        result = self.client.put_object(bucket_name=self.bucket, object_name=key, data=reader, length=-1,
                                        part_size=part_size)
        return ObjectInfo(key, -1, result.etag or "")

    def get(self, key: str) -> bytes:
        return b"".join(self.iter_chunks(key))

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            resp = self.client.get_object(bucket_name=self.bucket, object_name=key, offset=offset, length=length)
        except S3Error as exc:
            raise self._translate(exc) from None
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        try:
            resp = self.client.get_object(bucket_name=self.bucket, object_name=key)
        except S3Error as exc:
            raise self._translate(exc) from None
        try:
            yield from resp.stream(chunk_size)
        finally:
            resp.close()
            resp.release_conn()

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self.client.stat_object(bucket_name=self.bucket, object_name=key)
        except S3Error as exc:
            raise self._translate(exc) from None
        return ObjectInfo(key, int(st.size or 0), st.etag or "")

    def delete(self, key: str) -> None:
        self.client.remove_object(bucket_name=self.bucket, object_name=key)

    def ping(self) -> None:
        if not self.client.bucket_exists(bucket_name=self.bucket):
            raise ObjectNotFound(f"bucket {self.bucket} missing")

    # -- multipart uploads driven by the caller (presigned S3 requests) -----------------------------
    def start_upload(self, key: str, *, content_type: str = "application/octet-stream") -> str:
        """CreateMultipartUpload; returns the upload id."""
        resp = self._send("POST", key, {"uploads": ""}, headers={"Content-Type": content_type})
        upload_id = _xml_text(resp.data, "UploadId")
        if not upload_id:
            raise StoreRequestFailed(resp.status, "MalformedResponse")
        return upload_id

    def put_part(self, key: str, upload_id: str, number: int, data: Buffer) -> str:
        """UploadPart of `data` as it is (no copy); returns the part's ETag."""
        resp = self._send("PUT", key, {"partNumber": str(number), "uploadId": upload_id}, body=data,
                          headers={"Content-Length": str(memoryview(data).nbytes)})
        return str(resp.headers.get("etag", "")).replace('"', "")

    def complete_upload(self, key: str, upload_id: str, etags: list[str]) -> None:
        """CompleteMultipartUpload of parts 1..n with these ETags."""
        body = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>\"{escape(etag)}\"</ETag></Part>"
                       for n, etag in enumerate(etags, 1))
        resp = self._send("POST", key, {"uploadId": upload_id},
                          body=f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode(),
                          headers={"Content-Type": "application/xml"})
        _raise_for_error(resp)  # S3 may answer 200 with an error in the body

    def abort_upload(self, key: str, upload_id: str) -> None:
        """AbortMultipartUpload (also when it is already gone: S3 answers NoSuchUpload)."""
        try:
            self._send("DELETE", key, {"uploadId": upload_id})
        except StoreRequestFailed as exc:
            if exc.code != "NoSuchUpload":
                raise

    def _send(self, method: str, key: str, query: dict[str, str], *, body: Buffer | None = None,
              headers: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        # A fresh mapping of str each time (7.x updates it in place; 8.x types it HTTPQueryDict, a dict too)
        params: Any = dict(query)
        url = self.client.get_presigned_url(method=method, bucket_name=self.bucket, object_name=key,
                                            expires=PRESIGNED_FOR, extra_query_params=params)
        resp = self.http.urlopen(method, url, body=body, headers=headers)
        if resp.status not in (200, 204):
            raise StoreRequestFailed(resp.status, _xml_text(resp.data, "Code"))
        return resp

    @staticmethod
    def _translate(exc: S3Error) -> Exception:
        if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchVersion"):
            return ObjectNotFound(exc.code)
        return exc

    async def aping(self) -> None:
        await asyncio.to_thread(self.ping)


def _xml_text(data: bytes, tag: str) -> str | None:
    """The text of the first element named `tag` (any namespace) in an S3 XML answer, if any."""
    try:
        root = ElementTree.fromstring(data)  # noqa: S314 - our own store's answer (the SDK parses it so too)
    except ElementTree.ParseError:
        return None
    return next((el.text for el in root.iter() if el.tag.rpartition("}")[2] == tag), None)


def _raise_for_error(resp: urllib3.BaseHTTPResponse) -> None:
    try:
        root = ElementTree.fromstring(resp.data)  # noqa: S314 - as above
    except ElementTree.ParseError:
        raise StoreRequestFailed(resp.status, "MalformedResponse") from None
    if root.tag.rpartition("}")[2] == "Error":
        raise StoreRequestFailed(resp.status, _xml_text(resp.data, "Code"))
