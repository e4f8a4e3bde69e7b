"""Checkpoints copied to object storage, outside the database an intruder might rewrite.

The bucket is created with S3 object lock; each checkpoint object gets COMPLIANCE retention, so not
even the storage credentials can delete or overwrite that version before the retention date. Stores
without object lock still get the copy (logged as unlocked). Synchronous (MinIO SDK): callers use
`asyncio.to_thread`.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from shared.clock import utcnow
from shared.logging import get_logger
from shared.objectstore import S3ObjectStore

log = get_logger("tandem.records.audit")

PREFIX = "checkpoints/"


class CheckpointDoc(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON body of an archived checkpoint (signature over chain.checkpoint_message)."""

    version: int = 1
    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: str  # base64


def object_key(seq: int, key_id: str, signed_at: datetime) -> str:
    return f"{PREFIX}{seq:020d}-{int(signed_at.timestamp() * 1_000_000)}-{key_id}.json"


def signature_bytes(doc: CheckpointDoc) -> bytes:
    try:
        return base64.b64decode(doc.signature, validate=True)
    except ValueError:
        return b""


@dataclass
class CheckpointArchive:
    store: S3ObjectStore
    lock_days: int
    locked: bool = False

    def ensure(self) -> None:
        """Create the bucket with object lock if missing, and learn whether it has object lock."""
        self.store.ensure_bucket(object_lock=True)
        try:
            config = self.store.client.get_object_lock_config(self.store.bucket)
            self.locked = config is not None
        except S3Error:
            self.locked = False
        if not self.locked:
            log.warning("audit.archive_unlocked", bucket=self.store.bucket)

    def put(self, key: str, doc: CheckpointDoc) -> None:
        body = msgspec.json.encode(doc)
        # The store judges retention against its own clock, so this is wall-clock time on purpose.
        until = utcnow() + timedelta(days=self.lock_days)
        retention = Retention(COMPLIANCE, until) if self.locked else None
        self.store.client.put_object(self.store.bucket, key, io.BytesIO(body), len(body),
                                     content_type="application/json", retention=retention)

    def retention(self, key: str) -> tuple[str, datetime] | None:
        """(mode, retain-until) of the current version, or None."""
        try:
            ret = self.store.client.get_object_retention(self.store.bucket, key)
        except S3Error:
            return None
        if ret is None or ret.retain_until_date is None:
            return None
        return str(ret.mode), ret.retain_until_date

    def documents(self) -> Iterator[tuple[str, CheckpointDoc | None]]:
        """Every archived checkpoint version; None for one that does not parse.

        Versions are listed, not just current objects: a delete marker (which the storage credentials
        may place even under object lock) must not hide a locked checkpoint from `verify`."""
        client, bucket = self.store.client, self.store.bucket
        for obj in client.list_objects(bucket, prefix=PREFIX, recursive=True, include_version=True):
            if obj.is_delete_marker or not obj.object_name:
                continue
            name = obj.object_name
            resp = client.get_object(bucket, name, version_id=obj.version_id)
            try:
                body = resp.read()
            finally:
                resp.close()
                resp.release_conn()
            try:
                yield name, msgspec.json.decode(body, type=CheckpointDoc)
            except msgspec.DecodeError:
                yield name, None
