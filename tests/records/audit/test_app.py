"""The ledger inside the records app: the `tandem.audit` consumer, the auditor view (admins only),
and the fail-closed helper when the database is gone."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from deploy.local.children import S3Child, start_redis
from services.records.app import create_app
from services.records.audit.keys import load_public_keys
from services.records.audit.service import LedgerUnavailable, record_access_or_fail
from services.records.audit.tables import audit_entries
from services.records.audit.verify import verify
from services.records.audit.wiring import audit_handler
from shared.events import new_envelope
from shared.events.types import AuditEntry
from tests.support.audit import T0, AuditApp, app_settings, entry
from tests.support.databases import PG_ADMIN_DSN
from tests.support.identity import TestIssuer

pytestmark = pytest.mark.integration

EMAIL = "midwife.jane@example.org"
REASON = "Dispute 7: mentee says the recording was cut short"


async def wait_for_seq(app: AuditApp, seq: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while (await app.run(app.ledger.head))[0] < seq:
            await asyncio.sleep(0.02)


async def drained(redis: Redis, stream: str = "tandem.audit", group: str = "audit-ledger") -> None:
    async with asyncio.timeout(10):
        while True:
            info = {g["name"]: g for g in await redis.xinfo_groups(stream)}[group.encode()]
            if info["pending"] == 0 and info["lag"] == 0:
                return
            await asyncio.sleep(0.02)


async def stored(app: AuditApp) -> list[Any]:
    async def read() -> list[Any]:
        async with app.runtime.engine.connect() as conn:
            return list((await conn.execute(sa.select(audit_entries).order_by(audit_entries.c.seq))).all())
    return await app.run(read)


async def test_consumer_appends_each_event_once(audit_app: AuditApp, redis: Redis) -> None:
    runtime = audit_app.runtime
    await audit_app.run(runtime.auditor, "user:1", "note.read", "note:1", "success")
    await audit_app.run(runtime.auditor, EMAIL, "dispute.open", "session:9", "success", reason=REASON)
    envelope = new_envelope(AuditEntry(actor="user:2", action="record.play", target="record:5", outcome="denied"),
                            source="gateway")
    await audit_app.run(runtime.bus.publish_envelope, envelope)
    await audit_app.run(runtime.bus.publish_envelope, envelope)  # redelivered by the producer
    await wait_for_seq(audit_app, 3)
    await drained(redis)
    handler = audit_handler(audit_app.ledger, audit_app.context.checkpointer)
    await audit_app.run(handler, envelope)  # and once more, past the bus's own dedupe
    rows = await stored(audit_app)
    assert len(rows) == 3
    assert [(r.source, r.action, r.outcome) for r in rows] == [
        ("records", "note.read", "success"), ("records", "dispute.open", "success"),
        ("gateway", "record.play", "denied")]
    assert rows[2].event_id == envelope.id
    assert rows[1].actor is None and rows[1].reason_sealed is not None
    public = load_public_keys(Path(audit_app.settings.audit_key_dir))
    assert (await audit_app.run(verify, runtime.engine, public)).ok


async def seed(app: AuditApp) -> None:
    for e in (entry(1, actor=EMAIL, action="dispute.open", target="session:9", reason=REASON),
              entry(2, actor="user:admin2", action="dispute.approve", target="dispute:7"),
              entry(3, actor=EMAIL, action="dispute.record.read", target="record:5"),
              entry(4, actor="user:x", action="note.create", target="note:1", outcome="denied")):
        await app.run(app.ledger.append, e)


async def test_admin_searches_the_ledger(audit_app: AuditApp, capsys: pytest.CaptureFixture[str]) -> None:
    await seed(audit_app)
    client, admin = audit_app.client, audit_app.h("admin-1", "admin")

    async def search(**params: object) -> list[dict[str, object]]:
        resp = await client.get("/audit/entries", params=params, headers=admin)
        assert resp.status_code == 200, resp.text
        return resp.json()["entries"]  # type: ignore[no-any-return]

    everything = await search()
    assert [e["action"] for e in everything][:5] == ["audit.search", "note.create", "dispute.record.read",
                                                     "dispute.approve", "dispute.open"]
    assert everything[0]["actor"] == "admin-1"  # the search itself was recorded first
    by_email = await search(actor=EMAIL)
    assert [e["seq"] for e in by_email] == [3, 1]
    assert by_email[0]["actor"] is None and by_email[0]["actor_protected"] is True
    assert by_email[1]["reason"] == REASON and by_email[0]["reason"] is None
    assert [e["seq"] for e in await search(target="dispute:7")] == [2]
    assert [e["seq"] for e in await search(action="note.create")] == [4]
    window = {"since": (T0 + timedelta(minutes=2)).isoformat(), "until": (T0 + timedelta(minutes=4)).isoformat()}
    assert [e["seq"] for e in await search(**window)] == [3, 2]
    assert await search(actor="jane") == []  # exact values only: no partial or content search
    page = (await client.get("/audit/entries", params={"limit": 2}, headers=admin)).json()
    older = (await client.get("/audit/entries", params={"limit": 2, "before_seq": page["next_before_seq"]},
                              headers=admin)).json()
    assert [e["seq"] for e in older["entries"]] == [page["entries"][-1]["seq"] - 1, page["entries"][-1]["seq"] - 2]
    for bad in ({"limit": 0}, {"limit": 501}, {"since": "yesterday"}, {"before_seq": -1},
                {"since": window["until"], "until": window["since"]}):
        resp = await client.get("/audit/entries", params=bad, headers=admin)
        assert resp.status_code == 400, bad
        assert resp.headers["content-type"].startswith("application/problem+json")
    out = capsys.readouterr()
    assert EMAIL not in out.out + out.err and "cut short" not in out.out + out.err


ROLES = [["mentee"], ["mentor"], ["safeguarding"], ["operator"], ["service"], ["mentor", "mentee"], ["admin"]]


async def test_only_the_ledgers_audiences_reach_the_auditor_view(audit_app: AuditApp) -> None:
    app = audit_app
    await seed(app)
    for roles in ROLES:
        resp = await app.client.get("/audit/entries", headers=app.h("someone", *roles))
        if roles in (["admin"], ["safeguarding"], ["operator"]):  # what each sees: test_audiences.py
            assert resp.status_code == 200, resp.text
            continue
        assert resp.status_code == 403, roles
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "record" not in resp.text and "dispute" not in resp.text
    assert (await app.client.get("/audit/entries")).status_code == 401
    # Refused callers leave no search entry; the admin's, officer's and operator's searches do.
    assert [r.action for r in await stored(app)].count("audit.search") == 3


@pytest.mark.sqlite_pass_only(reason="OpenAPI schema only: the same on every backend")
async def test_auditor_view_is_in_the_openapi_schema(audit_app: AuditApp) -> None:
    schema = (await audit_app.client.get("/schema/openapi.json")).json()
    op = schema["paths"]["/audit/entries"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"actor", "target", "action", "since", "until", "before_seq",
                                                      "limit"}
    assert "reason" not in {p["name"] for p in op["parameters"]}
    assert "AuditPage" in str(op["responses"]["200"])
    assert "AuditEntryOut" in str(schema["components"]["schemas"])


async def _take_database_away(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        path = Path(db_url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{path}{suffix}.gone")
        path.mkdir()  # a directory where the database file was: it cannot be opened again
        return
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE "{db_url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def test_fail_closed_helper_raises_when_the_database_is_down(audit_app: AuditApp, db_url: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    runtime = audit_app.runtime
    receipt = await audit_app.run(record_access_or_fail, audit_app.ledger, actor="admin-2", action="record.download",
                                  target="record:5#bytes=0-1023", reason=REASON)
    assert receipt.appended and receipt.seq == 1
    await audit_app.run(runtime.engine.dispose)  # drop pooled connections: the next write must reach the database
    await _take_database_away(db_url)
    with pytest.raises(LedgerUnavailable):
        await audit_app.run(record_access_or_fail, audit_app.ledger, actor="admin-2", action="record.download",
                            target="record:5")
    resp = await audit_app.client.get("/audit/entries", headers=audit_app.h("admin-1", "admin"))
    assert resp.status_code == 503
    assert resp.json()["type"].endswith("/audit-unavailable")
    out = capsys.readouterr()
    assert "audit.ledger_write_failed" in out.out + out.err
    assert "cut short" not in out.out + out.err
    if db_url.startswith("sqlite"):
        shutil.rmtree(db_url.split(":///", 1)[1])


async def consumers_set_up(app: AuditApp, url: str) -> None:
    client = Redis.from_url(url)
    try:
        async with asyncio.timeout(10):
            for consumer in app.consumers:
                for stream in consumer.streams:
                    while True:
                        groups = await client.xinfo_groups(stream) if await client.exists(stream) else []
                        if consumer.group.encode() in {g["name"] for g in groups}:
                            break
                        await asyncio.sleep(0.02)
    finally:
        await client.aclose()


async def test_fail_closed_helper_does_not_need_redis(tmp_path: Path, db_url: str, s3_server: S3Child,
                                                     issuer: TestIssuer) -> None:
    """Redis stops: bus-published audit events stall, but ledgered access still works (it writes directly)."""
    redis_child = start_redis(tmp_path / "own-redis")
    try:
        settings = app_settings(tmp_path, db_url, redis_child.url, s3_server, issuer)
        app = create_app(settings)
        async with issuer.bind(AsyncTestClient(app)) as client:
            audit = AuditApp(client, app, settings, issuer)
            await consumers_set_up(audit, redis_child.url)  # a consumer whose setup failed fails shutdown
            redis_child.stop()
            receipt = await audit.run(record_access_or_fail, audit.ledger, actor="admin-2",
                                      action="dispute.record.read", target="record:5#bytes=0-99")
            assert receipt.appended and receipt.seq == 1
            assert [row.seq for row in await stored(audit)] == [1]
            # Reading it over HTTP waits for Redis: no assertion passes the wall while its single use
            # cannot be checked (503 with Retry-After, never an acceptance; docs/gateway.md).
            resp = await client.get("/audit/entries", headers=audit.h("admin-1", "admin"))
            assert resp.status_code == 503 and int(resp.headers["retry-after"]) >= 1
    finally:
        redis_child.stop()
