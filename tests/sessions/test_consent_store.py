"""The DB-backed consent store on SQLite and PostgreSQL: racing members are serialised, the ledger
is complete, and the evidence of one recording is its own round."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.sessions.consent import machine as cm
from services.sessions.consent.service import ConsentStore
from shared.db import create_engine, upgrade

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "sessions" / "migrations"
A, B = "alice", "bob"


async def test_racing_grants_start_exactly_once(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine, MIGRATIONS)
        store = ConsentStore(engine)
        for round_no in range(5):
            sid = f"s{round_no}"
            for ev in (cm.Connect(A), cm.Connect(B), cm.Request(A)):
                await store.transition(sid, (A, B), ev)
            results = await asyncio.gather(store.transition(sid, (A, B), cm.Grant(A)),
                                           store.transition(sid, (A, B), cm.Grant(B)))
            started = [e for _b, _a, entries in results for e in entries if e.kind == "started"]
            assert len(started) == 1
            state = await store.state(sid, (A, B))
            assert state.phase == "recording" and state.recording_id == started[0].recording_id
            # Both revoking at once: stopped exactly once.
            results = await asyncio.gather(store.transition(sid, (A, B), cm.Revoke(A)),
                                           store.transition(sid, (A, B), cm.Revoke(B)))
            stops = [e for _b, _a, entries in results for e in entries if e.kind == "stopped"]
            assert len(stops) == 1
            ledger = await store.ledger(sid)
            assert [e["kind"] for e in ledger] == ["requested", "granted", "granted", "started", "revoked",
                                                  "stopped"]
            assert [e["kind"] for e in await store.ledger(sid, state.recording_id)] == [
                "requested", "granted", "granted", "started", "revoked", "stopped"]
        # A second round in one session: its evidence is its own round only.
        sid = "s0"
        for ev in (cm.Request(B), cm.Grant(B), cm.Grant(A)):
            _b, after, _e = await store.transition(sid, (A, B), ev)
        second = after.recording_id
        assert second is not None
        evidence = await store.ledger(sid, second)
        assert [(e["kind"], e["actor"]) for e in evidence] == [("requested", B), ("granted", B), ("granted", A),
                                                               ("started", "system")]
        with pytest.raises(cm.ConsentError):
            await store.transition(sid, (A, B), cm.Grant("mallory"))
    finally:
        await engine.dispose()
