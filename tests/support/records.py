"""Records test helpers: the harness around a running records app (its client, its settings, the
service's own logic on the test's event loop, the raw bucket) and the settings it runs with; a
recording's metadata header and its ingest as the sessions service sends it."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from minio import Minio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.local.children import S3Child
from services.records.adapters.db import outbox
from services.records.app import create_app
from services.records.audit.keys import AuditKeys
from services.records.audit.service import Checkpointer, Ledger
from services.records.config import Settings
from services.records.context import RecordsContext, build_context
from shared.bus import RedisStreamBus
from shared.clock import Clock, utcnow
from shared.db import create_engine
from shared.events import new_envelope
from shared.events.types import PairingActivated, PairingEnded, SessionScheduled
from shared.objectstore import S3ObjectStore
from shared.outbox import Outbox
from tests.support.identity import TestIssuer


@dataclass
class Harness:
    client: AsyncTestClient[Litestar]
    app: Litestar
    issuer: TestIssuer
    settings: Settings
    s3: S3Child
    engine: AsyncEngine  # bound to the test's event loop
    outbox: Outbox  # stages on `engine`, publishes to the run's Redis
    rec: RecordsContext  # the service's own logic on `engine`

    def __post_init__(self) -> None:
        self.issuer.bind(self.client)  # each request's assertion bound to it, as the gateway mints them

    @property
    def app_rec(self) -> RecordsContext:
        """The running app's context (its engine lives on the app's loop: don't query it from tests)."""
        rec: RecordsContext = self.app.state.context
        return rec

    def h(self, sub: str, *roles: str) -> dict[str, str]:
        return self.issuer.headers(sub, list(roles), "records")

    async def pair(self, pairing_id: str, mentor: str, mentee: str) -> None:
        await self.rec.events.handle(new_envelope(
            PairingActivated(pairing_id=pairing_id, mentor_id=mentor, mentee_id=mentee), source="sessions"))

    async def end_pairing(self, pairing_id: str, mentor: str, mentee: str, at: datetime | None = None) -> None:
        await self.rec.events.handle(new_envelope(
            PairingEnded(pairing_id=pairing_id, mentor_id=mentor, mentee_id=mentee, ended_at=at or datetime.now(UTC)),
            source="sessions"))

    async def schedule(self, session_id: str, pairing_id: str) -> None:
        now = datetime.now(UTC)
        await self.rec.events.handle(new_envelope(
            SessionScheduled(session_id=session_id, pairing_id=pairing_id, starts_at=now, ends_at=now),
            source="sessions"))

    def minio(self) -> Minio:
        return Minio(self.s3.endpoint, access_key=self.s3.access_key, secret_key=self.s3.secret_key, secure=False)

    def raw_objects(self) -> dict[str, bytes]:
        """Every object in the bucket, raw bytes as stored."""
        client = self.minio()
        out = {}
        for obj in client.list_objects(self.settings.s3_bucket, recursive=True):
            resp = client.get_object(self.settings.s3_bucket, obj.object_name)
            try:
                out[obj.object_name] = resp.read()
            finally:
                resp.close()
                resp.release_conn()
        return out


def make_settings(tmp_path: Path, db_url: str, redis_url: str, s3: S3Child, issuer: TestIssuer,
                  **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url, "redis_url": redis_url, "jwks_file": str(issuer.jwks_path),
        "s3_endpoint": s3.endpoint, "s3_access_key": s3.access_key, "s3_secret_key": s3.secret_key,
        "s3_bucket": f"rec-{secrets.token_hex(6)}", "keyring_path": str(tmp_path / "keys" / "keyring.json"),
        "audit_key_dir": str(tmp_path / "audit-keys"), "audit_bucket": f"audit-{secrets.token_hex(6)}",
        "sweep_interval_s": 0.0, "segment_size": 4096, "instance_id": f"t-{secrets.token_hex(3)}",
    }
    values.update(overrides)
    return Settings(**values)


async def open_harness(settings: Settings, issuer: TestIssuer, s3: S3Child, *,
                       clock: Clock = utcnow) -> AsyncIterator[Harness]:
    """The app and the test's own context, both seeing `clock` as the records services' time."""
    app = create_app(settings, clock=clock)
    async with issuer.bind(AsyncTestClient(app)) as client:
        engine = create_engine(settings.database_url)
        store = S3ObjectStore.from_settings(settings, settings.s3_bucket)
        redis = Redis.from_url(settings.redis_url)
        staged = Outbox(engine, outbox, RedisStreamBus(redis, "records"), "records")
        ledger = Ledger(engine, AuditKeys.load_or_create(Path(settings.audit_key_dir)))
        checkpointer = Checkpointer(ledger, every=settings.audit_checkpoint_every, interval_s=0)
        rec = build_context(settings, engine, staged, store=store, ledger=ledger, checkpointer=checkpointer,
                            clock=clock)
        try:
            yield Harness(client, app, issuer, settings, s3, engine, staged, rec)
        finally:
            await engine.dispose()
            await redis.aclose()


MENTOR, MENTEE = "u-mentor", "u-mentee"
CONSENT = [{"actor": MENTOR, "event": "granted", "at": "2026-11-22T10:00:00Z"},
           {"actor": MENTEE, "event": "granted", "at": "2026-11-22T10:00:01Z"}]


def meta_header(**overrides: Any) -> str:
    meta = {"session_id": "s1", "pairing_id": "p1", "consent_evidence": CONSENT,
            "started_at": "2026-11-22T10:00:02Z", "recording_id": "rec-1", **overrides}
    return base64.urlsafe_b64encode(json.dumps(meta).encode()).decode().rstrip("=")


async def ingest(h: Harness, data: bytes, **headers: str) -> Any:
    return await h.client.post("/internal/recordings", content=data,
                               headers={**h.h("svc-sessions", "service"), "content-type": "video/webm",
                                        "tandem-recording": meta_header(), **headers})
