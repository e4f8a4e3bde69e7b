"""Consent state kept in the database (shared by every instance) and the append-only ledger.

`transition` loads the session's state, applies the pure machine and writes the new state with a
compare-and-set on `version` in the same transaction as the ledger lines; on a lost race it retries,
so two members acting at once on different instances are serialised.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.sessions.consent import machine as m
from services.sessions.consent.tables import consent_ledger, consent_state
from shared.clock import Clock, aware, utcnow
from shared.logging import get_logger

log = get_logger("tandem.sessions.consent")


class ConsentStore:
    def __init__(self, engine: AsyncEngine, *, clock: Clock = utcnow, new_id: Callable[[], str] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.new_id = new_id or (lambda: uuid.uuid4().hex)

    async def state(self, session_id: str, members: tuple[str, str]) -> m.ConsentState:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(consent_state.c.state)
                                      .where(consent_state.c.session_id == session_id))).first()
        return m.decode(row.state) if row else m.initial(members)

    async def transition(self, session_id: str, members: tuple[str, str],
                         event: m.Event) -> tuple[m.ConsentState, m.ConsentState, list[m.Entry]]:
        """Apply `event`: (before, after, entries). Raises ConsentError when not allowed."""
        for _ in range(20):
            async with self.engine.begin() as conn:
                row = (await conn.execute(sa.select(consent_state.c.state, consent_state.c.version)
                                          .where(consent_state.c.session_id == session_id))).first()
                before = m.decode(row.state) if row else m.initial(members)
                after, entries = m.apply(before, event, self.clock(), self.new_id)
                if after == before and not entries:
                    return before, after, entries
                if row is None:
                    try:
                        await conn.execute(sa.insert(consent_state).values(
                            session_id=session_id, state=m.encode(after), version=1))
                    except sa.exc.IntegrityError:
                        continue  # the other member's first message won: reload
                else:
                    done = await conn.execute(sa.update(consent_state).where(
                        consent_state.c.session_id == session_id, consent_state.c.version == row.version,
                    ).values(state=m.encode(after), version=row.version + 1))
                    if not done.rowcount:
                        continue
                if entries:
                    await conn.execute(sa.insert(consent_ledger), [
                        {"session_id": session_id, "kind": e.kind, "actor": e.actor, "at": e.at,
                         "recording_id": e.recording_id, "reason": e.reason} for e in entries])
            for e in entries:
                log.info("consent.transition", session_id=session_id, kind=e.kind, actor=e.actor,
                         recording_id=e.recording_id, reason=e.reason)
            return before, after, entries
        raise RuntimeError("consent state contention")  # pragma: no cover

    async def ledger(self, session_id: str, recording_id: str | None = None) -> list[dict[str, Any]]:
        """The evidence: every line of the session (or the round that led to `recording_id`)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(consent_ledger).where(consent_ledger.c.session_id == session_id)
                                       .order_by(consent_ledger.c.seq))).all()
        out = [{"seq": r.seq, "kind": r.kind, "actor": r.actor,
                "at": aware(r.at).isoformat(),
                "recording_id": r.recording_id, "reason": r.reason} for r in rows]
        if recording_id is None:
            return out
        # The round: from the request that led to this recording's start up to its stop.
        start = next((i for i, e in enumerate(out) if e["kind"] == "started" and e["recording_id"] == recording_id),
                     None)
        if start is None:
            return []
        first = max((i for i in range(start) if out[i]["kind"] == "requested"), default=0)
        last = next((i for i in range(start, len(out)) if out[i]["kind"] == "stopped"), len(out) - 1)
        return out[first:last + 1]
