"""Scale-out outside containers: two records processes (`python -m services.records`, each its own uvicorn
on its own loopback port) share one database, one Redis and one S3 endpoint, and so one consumer group
("records"). Many pairing and session events go through the bus: between them the two instances handle
every event exactly once (projection rows, inbox marks, each instance's own log lines), and Redis shows
both consumers in the group, each having taken a share.

Two sessions processes with a WebSocket signal crossing them (members on different instances find each
other, call, consent) are tests/sessions/test_cross_instance.py; both run on the run's database backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from deploy.local.children import S3Child, free_port
from services.records.adapters.db import inbox
from services.records.events.consumer import GROUP
from services.records.pairings.tables import pairing_sessions, pairings
from shared.bus import RedisStreamBus
from shared.db import create_engine
from shared.events.types import PairingActivated, PairingEnded, SessionScheduled
from tests.support.identity import TestIssuer
from tests.support.processes import stop_all

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PAIRINGS = 40  # three events each: activated, a session scheduled, ended


@dataclass
class Instance:
    name: str
    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def log_events(self, event: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("event") == event:
                found.append(entry)
        return found


def records_env(name: str, port: int, database_url: str, redis_url: str, s3: S3Child, issuer: TestIssuer,
                shared: Path, bucket: str) -> dict[str, str]:
    """The same configuration for every instance but its port and instance id (as two pods would have)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDS_")}
    return env | {
        "RECORDS_HOST": "127.0.0.1", "RECORDS_PORT": str(port), "RECORDS_INSTANCE_ID": name,
        "RECORDS_DATABASE_URL": database_url, "RECORDS_REDIS_URL": redis_url,
        "RECORDS_JWKS_FILE": str(issuer.jwks_path), "RECORDS_LOG_JSON": "true", "RECORDS_LOG_LEVEL": "info",
        "RECORDS_S3_ENDPOINT": s3.endpoint, "RECORDS_S3_ACCESS_KEY": s3.access_key,
        "RECORDS_S3_SECRET_KEY": s3.secret_key, "RECORDS_S3_BUCKET": bucket,
        "RECORDS_AUDIT_BUCKET": f"audit-{bucket}", "RECORDS_KEYRING_PATH": str(shared / "keyring.json"),
        "RECORDS_AUDIT_KEY_DIR": str(shared / "audit-keys"), "RECORDS_SWEEP_INTERVAL_S": "0",
        "RECORDS_AUDIT_CHECKPOINT_INTERVAL_S": "0",
        # A crashed or slow delivery is reclaimed by the other instance after a second, not thirty.
        "RECORDS_BUS_CLAIM_IDLE_MS": "1000",
    }


async def wait_ready(inst: Instance, timeout: float = 90.0) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if inst.proc.poll() is not None:
                raise AssertionError(f"{inst.name} exited with {inst.proc.returncode}:\n{inst.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{inst.url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{inst.name} not ready:\n{inst.log.read_text()[-3000:]}")


async def consumers_joined(redis: Redis, names: set[str], timeout: float = 30.0) -> None:
    """Both instances' consumers are registered in the group on every stream they read."""
    async with asyncio.timeout(timeout):
        for stream in ("tandem.pairing", "tandem.session"):
            while True:
                groups = await redis.xinfo_groups(stream) if await redis.exists(stream) else []
                if GROUP.encode() in {g["name"] for g in groups}:
                    got = {c["name"].decode() for c in await redis.xinfo_consumers(stream, GROUP)}
                    if names <= got:
                        break
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def two_records(tmp_path: Path, database_url: str, redis_url: str, s3: S3Child,
                      issuer: TestIssuer) -> AsyncIterator[tuple[Instance, Instance]]:
    shared = tmp_path / "shared"
    shared.mkdir()
    bucket = f"rec-{secrets.token_hex(5)}"
    started: list[Instance] = []
    try:
        for name in ("records-a", "records-b"):
            port = free_port()
            log = tmp_path / f"{name}.log"
            with log.open("wb") as out:  # the child keeps its own descriptor
                proc = subprocess.Popen([sys.executable, "-m", "services.records"], cwd=ROOT, stdout=out,
                                        stderr=subprocess.STDOUT,
                                        env=records_env(name, port, database_url, redis_url, s3, issuer, shared,
                                                        bucket))
            inst = Instance(name, f"http://127.0.0.1:{port}", log, proc)
            started.append(inst)
            # One at a time: the first applies the migrations and creates the shared keyring and keys.
            await wait_ready(inst)
        yield started[0], started[1]
    finally:
        stop_all((inst.proc for inst in started), timeout=20)


async def test_two_records_instances_share_the_consumer_group(tmp_path: Path, db_url: str, redis_url: str,
                                                             redis: Redis, s3_server: S3Child,
                                                             issuer: TestIssuer) -> None:
    async with two_records(tmp_path, db_url, redis_url, s3_server, issuer) as (a, b):
        await consumers_joined(redis, {a.name, b.name})
        bus = RedisStreamBus(redis, "sessions")
        ids: set[str] = set()
        start = datetime.now(UTC)
        for i in range(PAIRINGS):
            pid = f"pair-{i:03d}"
            mentor, mentee = f"mentor-{i}", f"mentee-{i}"
            # One at a time, as a busy sessions service would publish them: each blocked consumer in
            # turn picks up what is new, so both instances get a share.
            ids.add(await _publish(bus, PairingActivated(pairing_id=pid, mentor_id=mentor, mentee_id=mentee)))
            ids.add(await _publish(bus, SessionScheduled(session_id=f"sess-{i:03d}", pairing_id=pid, starts_at=start,
                                                         ends_at=start + timedelta(hours=1))))
            ids.add(await _publish(bus, PairingEnded(pairing_id=pid, mentor_id=mentor, mentee_id=mentee,
                                                     ended_at=start)))
            await asyncio.sleep(0.01)
        assert len(ids) == 3 * PAIRINGS

        engine = create_engine(db_url)
        try:
            async with asyncio.timeout(120):
                while True:
                    async with engine.connect() as conn:
                        marked = set((await conn.execute(
                            sa.select(inbox.c.event_id).where(inbox.c.consumer == GROUP))).scalars())
                    if ids <= marked:
                        break
                    for inst in (a, b):
                        assert inst.proc.poll() is None, f"{inst.name} died:\n{inst.log.read_text()[-3000:]}"
                    await asyncio.sleep(0.2)
            async with engine.connect() as conn:
                rows = (await conn.execute(sa.select(pairings))).all()
                sessions = (await conn.execute(sa.select(pairing_sessions))).all()
                marks = (await conn.execute(sa.select(inbox.c.event_id).where(inbox.c.consumer == GROUP))).all()
        finally:
            await engine.dispose()

        # The projection: every pairing once, ended (an end is final whatever order the two instances
        # handled its events in), every session mapped; one inbox mark per event.
        assert len(rows) == PAIRINGS and {r.pairing_id for r in rows} == {f"pair-{i:03d}" for i in range(PAIRINGS)}
        assert all(r.state == "ended" and r.ended_at is not None for r in rows), [r for r in rows if r.state != "ended"]
        assert sorted(s.session_id for s in sessions) == [f"sess-{i:03d}" for i in range(PAIRINGS)]
        assert len(marks) == len(ids)

        # Each instance logs the pairing ends it applied (only after winning the event's inbox claim):
        # together they cover every pairing, none is applied twice, and each instance did part of the work.
        ended = {inst.name: [e["pairing_id"] for e in inst.log_events("records.pairing_ended")] for inst in (a, b)}
        applied = ended[a.name] + ended[b.name]
        print("pairing ends applied per instance:", {name: len(v) for name, v in ended.items()})
        assert sorted(applied) == sorted(f"pair-{i:03d}" for i in range(PAIRINGS)), ended
        assert ended[a.name] and ended[b.name], f"one instance did all the work: {ended}"

        # Redis: both consumers are in the group, nothing is left pending or dead-lettered.
        for stream in ("tandem.pairing", "tandem.session"):
            consumers = {c["name"].decode(): c for c in await redis.xinfo_consumers(stream, GROUP)}
            assert {a.name, b.name} <= set(consumers), consumers
            assert all(c["pending"] == 0 for c in consumers.values()), consumers
            assert not await redis.exists(f"{stream}.dead")
        for inst in (a, b):
            assert inst.proc.poll() is None, f"{inst.name} died:\n{inst.log.read_text()[-3000:]}"


async def _publish(bus: RedisStreamBus, event: Any) -> str:
    """Publish and return the event's envelope id (what the inbox records)."""
    event_id = secrets.token_hex(16)
    await bus.publish(event, event_id=event_id)
    return event_id
