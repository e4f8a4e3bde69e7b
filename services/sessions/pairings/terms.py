"""A pairing's term (issue 17, item 4): set at activation (SESSIONS_TERM_MONTHS, six by default); both
members are reminded before it ends (`pairing.term` "ending_soon", once per term end); either may propose
a later end, which takes effect only when the other accepts; when the term ends the pairing closes as
when a member ends it (agendas shredded, `pairing.ended` starts the records' retention clocks).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.pairings.service import PairingEnd, close_in, load, term_event, transition
from services.sessions.pairings.tables import pairings
from shared.clock import aware, utcnow
from shared.events.types import AuditEntry
from shared.http import Conflict
from shared.logging import get_logger
from shared.outbox import Outbox
from shared.service import Runtime
from shared.tasks import cancel

log = get_logger("tandem.sessions.terms")
MAX_EXTENSION_MONTHS = 12
SYSTEM = "system:terms"


async def _audit(conn: AsyncConnection, outbox: Outbox, action: str, pairing_id: str) -> None:
    target = f"pairing:{pairing_id}"
    await outbox.add(conn, AuditEntry(actor=SYSTEM, action=action, target=target, outcome="success"), subject=target)


async def sweep_terms(runtime: Runtime, ending: PairingEnd, *, remind_before: timedelta,
                      now: datetime | None = None) -> tuple[int, int]:
    """Remind the pairs whose term ends within `remind_before` (once), close those whose term ended.
    Each pairing in its own transaction; returns (reminded, closed)."""
    outbox = runtime.outbox
    assert outbox is not None  # noqa: S101 - create_app always configures it
    now = now or utcnow()
    active = pairings.c.state == "active"
    async with runtime.engine.connect() as conn:
        ended = [r.pairing_id for r in (await conn.execute(sa.select(pairings.c.pairing_id).where(
            active, pairings.c.term_ends_at <= now))).all()]
        soon = [r.pairing_id for r in (await conn.execute(sa.select(pairings.c.pairing_id).where(
            active, pairings.c.term_ends_at > now, pairings.c.term_ends_at <= now + remind_before,
            pairings.c.term_reminded_at.is_(None)))).all()]
    closed = reminded = 0
    for pairing_id in ended:
        with contextlib.suppress(Conflict):  # a member ended or extended it meanwhile
            async with runtime.engine.begin() as conn:
                row = await load(conn, pairing_id, for_update=True)
                if row.state != "active" or row.term_ends_at is None or aware(row.term_ends_at) > now:
                    continue
                await close_in(conn, outbox, row, now, ending)
                await _audit(conn, outbox, "pairing.term_end", pairing_id)
            await ending.after(pairing_id)
            closed += 1
    for pairing_id in soon:
        with contextlib.suppress(Conflict):
            async with runtime.engine.begin() as conn:
                row = await load(conn, pairing_id, for_update=True)
                if row.state != "active" or row.term_reminded_at is not None:
                    continue
                await transition(conn, row, term_reminded_at=now)
                await outbox.add(conn, term_event(row, "ending_soon", row.term_ends_at),
                                 subject=f"pairing:{pairing_id}")
            reminded += 1
    if closed or reminded:
        log.info("sessions.terms_swept", reminded=reminded, closed=closed)
    return reminded, closed


@contextlib.asynccontextmanager
async def running_terms(runtime: Runtime, ending: PairingEnd, *, interval_s: float,
                        remind_before: timedelta) -> AsyncIterator[None]:
    """`sweep_terms` every `interval_s` seconds while open (0: never)."""
    if interval_s <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            try:
                await sweep_terms(runtime, ending, remind_before=remind_before)
            except Exception as exc:  # noqa: BLE001 - a database outage must not end the loop
                log.warning("sessions.terms_sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(interval_s)

    task = asyncio.create_task(loop(), name="sessions:terms")
    try:
        yield
    finally:
        await cancel(task)
