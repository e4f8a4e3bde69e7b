"""Fail closed: when the audit ledger cannot be written, dispute access serves no bytes and no
transition takes effect (SQLite and PostgreSQL). The ledger table is made unwritable for real, in the
database, by renaming it away; the dispute tables stay readable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.records.adapters.db import outbox
from services.records.disputes.tables import dispute_accesses, disputes
from tests.support.disputes import A1, A2, World, problem

pytestmark = pytest.mark.integration


async def _rename(w: World, old: str, new: str) -> None:
    async with w.h.engine.begin() as conn:
        await conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_no_ledger_no_bytes(world: World) -> None:
    w, client = world, world.h.client
    a = w.s1[0]
    did = await w.approved("s1", grantee=A2, record=a)
    path = f"/disputes/{did}/records/{a}/content"
    async with w.h.engine.connect() as conn:
        staged_before = (await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one()

    await _rename(w, "audit_entries", "audit_entries_away")
    try:
        for headers in ({}, {"range": "bytes=0-99"}):
            resp = await client.get(path, headers={**w.admin(A2), **headers})
            problem(resp, 503, "audit-unavailable")
            assert w.media[a][:64] not in resp.content
        # A transition cannot happen unrecorded either.
        problem(await w.post(f"/disputes/{did}/close", w.admin(A1), outcome="resolved", reason="closing now"), 503)
        async with w.h.engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(dispute_accesses))).scalar_one() == 0
            assert (await conn.execute(sa.select(disputes.c.state))).scalar_one() == "approved"
            # Nothing was staged for the pair either: no notice of an access that did not happen.
            assert (await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one() == staged_before
    finally:
        await _rename(w, "audit_entries_away", "audit_entries")

    resp = await client.get(path, headers={**w.admin(A2), "range": "bytes=0-99"})
    assert resp.status_code == 206 and resp.content == w.media[a][:100]
