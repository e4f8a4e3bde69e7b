"""Checkpoints in object storage (SeaweedFS, object lock): COMPLIANCE retention, and verify reading
the archived copies, which survive an intruder deleting the database's checkpoint rows."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from minio.error import S3Error
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.local.children import S3Child
from services.records.audit.archive import CheckpointArchive, CheckpointDoc
from services.records.audit.keys import AuditKeys, key_id
from services.records.audit.service import Ledger
from services.records.audit.verify import verify
from services.records.config import Settings
from shared.objectstore import S3ObjectStore
from tests.support.audit import StepClock, entry

pytestmark = pytest.mark.integration


def archive_for(s3: S3Child) -> CheckpointArchive:
    settings = Settings(s3_endpoint=s3.endpoint, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key)
    store = S3ObjectStore.from_settings(settings, f"audit-{secrets.token_hex(4)}")
    archive = CheckpointArchive(store, lock_days=1)
    archive.ensure()
    return archive


@pytest.fixture
def archive(s3_server: S3Child) -> CheckpointArchive:
    return archive_for(s3_server)


async def test_checkpoints_are_archived_under_compliance_retention(engine: AsyncEngine, keys: AuditKeys,
                                                                   archive: CheckpointArchive) -> None:
    assert archive.locked
    ledger = Ledger(engine, keys, clock=StepClock(), archive=archive)
    for i in range(1, 4):
        await ledger.append(entry(i))
    cp = await ledger.checkpoint()
    assert cp is not None and cp.object_key is not None
    mode, until = archive.retention(cp.object_key) or ("", datetime.min.replace(tzinfo=UTC))
    assert mode == "COMPLIANCE" and until > datetime.now(UTC)
    client, bucket = archive.store.client, archive.store.bucket
    version = client.stat_object(bucket, cp.object_key).version_id
    with pytest.raises(S3Error):  # a locked version cannot be deleted before its retention date
        client.remove_object(bucket, cp.object_key, version_id=version)
    docs = list(archive.documents())
    assert [d.seq for _, d in docs if d] == [3]
    report = await verify(engine, {key_id(keys.public_key): keys.public_key}, archive=archive)
    assert report.ok and report.archived == 1, report.problems


async def test_archived_checkpoint_catches_a_rewrite_after_db_checkpoints_are_deleted(
        engine: AsyncEngine, keys: AuditKeys, archive: CheckpointArchive) -> None:
    from services.records.audit import chain
    from services.records.audit.tables import audit_entries

    ledger = Ledger(engine, keys, clock=StepClock(), archive=archive)
    for i in range(1, 6):
        await ledger.append(entry(i))
    await ledger.checkpoint()
    # The intruder rewrites entry 2 onwards consistently, fixes the head, deletes the checkpoint rows.
    async with engine.begin() as conn:
        stored = [dict(r) for r in (await conn.execute(
            sa.select(audit_entries).order_by(audit_entries.c.seq))).mappings().all()]
        prev = stored[0]["hash"]
        for row in stored[1:]:
            row.update(outcome="denied", prev_hash=prev)
            row["hash"] = prev = chain.entry_hash(prev, row)
            await conn.execute(sa.update(audit_entries).where(audit_entries.c.seq == row["seq"])
                               .values(outcome="denied", prev_hash=row["prev_hash"], hash=row["hash"]))
        await conn.execute(sa.text("UPDATE audit_head SET hash = :h"), {"h": prev})
        await conn.execute(sa.text("DELETE FROM audit_checkpoints"))
    for name, _ in list(archive.documents()):  # and hides the archived copies behind delete markers
        archive.store.client.remove_object(archive.store.bucket, name)
    assert not list(archive.store.client.list_objects(archive.store.bucket, prefix="checkpoints/"))
    public = {key_id(keys.public_key): keys.public_key}
    assert (await verify(engine, public)).ok  # without the archive nothing can tell
    report = await verify(engine, public, archive=archive)
    assert not report.ok and report.first_bad_seq == 1
    assert "1..5" in report.problems[0]


async def test_forged_archive_object_is_reported(engine: AsyncEngine, keys: AuditKeys,
                                                 archive: CheckpointArchive) -> None:
    ledger = Ledger(engine, keys, clock=StepClock(), archive=archive)
    await ledger.append(entry(1))
    now = datetime.now(UTC)
    archive.put("checkpoints/forged.json", CheckpointDoc(seq=1, hash="00" * 32, signed_at=now,
                                                         key_id=keys.signing_key_id, signature="AAAA"))
    archive.store.put("checkpoints/garbage.json", b"not json")
    report = await verify(engine, {key_id(keys.public_key): keys.public_key}, archive=archive)
    assert not report.ok
    assert any("forged.json: signature invalid" in p for p in report.problems)
    assert any("garbage.json: malformed" in p for p in report.problems)
