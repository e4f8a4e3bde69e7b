"""`tandem keys` rotate / rewrap / retire / list against real data, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import os

import pytest
import sqlalchemy as sa

from services.records import cli
from services.records.lifecycle.tables import record_objects
from tests.support.records import Harness, meta_header

pytestmark = pytest.mark.integration

MENTOR, MENTEE = "u-mentor", "u-mentee"


async def run_cli(h: Harness, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(cli.main, list(argv), settings=h.settings, out=out)
    return code, out.getvalue()


async def _versions(h: Harness) -> list[int]:
    async with h.engine.connect() as conn:
        return sorted(r[0] for r in await conn.execute(
            sa.select(record_objects.c.kek_version).where(record_objects.c.wrapped_dek.is_not(None))))


async def test_rotate_rewrap_retire(db_harness: Harness) -> None:
    h = db_harness
    await h.pair("p1", MENTOR, MENTEE)
    member = h.h(MENTEE, "mentee")
    notes = []
    for i in range(3):
        resp = await h.client.post("/notes", headers=member, json={"pairing_id": "p1", "text": f"note {i}"})
        notes.append(resp.json()["id"])
    video = os.urandom(70_000)
    resp = await h.client.post("/internal/recordings", content=video,
                               headers={**h.h("svc", "service"), "tandem-recording": meta_header()})
    rid = resp.json()["id"]
    assert await _versions(h) == [1, 1, 1, 1]

    code, out = await run_cli(h, "keys", "rotate")
    assert code == 0 and "version 2 is now primary" in out
    code, out = await run_cli(h, "keys", "retire", "1")
    assert code == 1 and "still wraps 4 data keys" in out
    code, out = await run_cli(h, "keys", "retire", "2")
    assert code == 1 and "primary" in out
    resp = await h.client.post("/notes", headers=member, json={"pairing_id": "p1", "text": "after rotation"})
    notes.append(resp.json()["id"])
    assert await _versions(h) == [1, 1, 1, 1, 2]

    objects_before = h.raw_objects()
    code, out = await run_cli(h, "keys", "rewrap", "--batch", "3")
    assert code == 0
    assert "rewrap: 3/4" in out and "rewrap: 4/4" in out and "4 data keys re-wrapped under KEK version 2" in out
    assert h.raw_objects() == objects_before  # rewrap never touches object data
    assert await _versions(h) == [2, 2, 2, 2, 2]
    code, out = await run_cli(h, "keys", "rewrap")
    assert code == 0 and "0 data keys re-wrapped" in out  # resumable / idempotent

    code, out = await run_cli(h, "keys", "list")
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["1"][-1] == "0" and lines["2"][-1] == "5" and lines["2"][1] == "primary"
    code, out = await run_cli(h, "keys", "retire", "1")
    assert code == 0 and "0 data keys" in out
    code, out = await run_cli(h, "keys", "list")
    assert "retired" in out

    for i, nid in enumerate(notes):
        got = await h.client.get(f"/notes/{nid}", headers=member)
        assert got.status_code == 200 and got.json()["text"] == (f"note {i}" if i < 3 else "after rotation")
    part = await h.client.get(f"/recordings/{rid}/content", headers={**member, "range": "bytes=5000-9000"})
    assert part.status_code == 206 and part.content == video[5000:9001]


async def test_cli_usage_errors(harness: Harness) -> None:
    code, _ = await run_cli(harness, "keys", "nonsense")
    assert code == 2
    code, out = await run_cli(harness, "keys", "retire", "99")
    assert code == 1 and "refused" in out
