"""Projection of safeguarding officers from `tandem.user`, applied exactly once per event.

Only accounts that hold or held the safeguarding role get a row. Erasure requests are acknowledged
and change nothing here: reports are kept for their retention period on a safeguarding basis, and no
reporter or subject account id is stored in clear (see docs/reports.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reports.adapters.db import inbox
from services.reports.officers.tables import officers
from shared.bus import Handler
from shared.clock import utcnow
from shared.db import claim_event
from shared.events import Envelope, Event
from shared.events import types as t
from shared.logging import get_logger
from shared.service import Runtime

log = get_logger("tandem.reports.officers")
GROUP = "reports"
STREAMS = ("tandem.user",)
CONSUMER = "reports.officers"


async def is_active_officer(conn: AsyncConnection, user_id: str) -> bool:
    row = (await conn.execute(sa.select(officers).where(officers.c.user_id == user_id))).first()
    return row is not None and row.safeguarding and not row.suspended


async def withheld_from(conn: AsyncConnection, person_id: str | None) -> tuple[str, ...]:
    """Who a report's notices must skip: its subject, named only when this projection knows them as an
    officer (only an officer would be told). Anyone else's id never goes into an event: the subject of a
    report is kept here only as a keyed tag."""
    if person_id:
        row = (await conn.execute(sa.select(officers.c.safeguarding).where(officers.c.user_id == person_id))).first()
        if row is not None and row.safeguarding:
            return (person_id,)
    return ()


async def _apply(conn: AsyncConnection, payload: Event) -> None:
    now = utcnow()
    match payload:
        case t.UserCreated(user_id=uid, roles=roles) | t.UserRolesChanged(user_id=uid, roles=roles):
            holds = "safeguarding" in roles
            done = await conn.execute(sa.update(officers).where(officers.c.user_id == uid)
                                      .values(safeguarding=holds, updated_at=now))
            if not done.rowcount and holds:
                await conn.execute(sa.insert(officers).values(user_id=uid, safeguarding=True, suspended=False,
                                                              updated_at=now))
        case t.UserSuspended(user_id=uid) | t.UserReactivated(user_id=uid):
            await conn.execute(sa.update(officers).where(officers.c.user_id == uid).values(
                suspended=isinstance(payload, t.UserSuspended), updated_at=now))


async def apply_user_event(conn: AsyncConnection, envelope: Envelope) -> None:
    try:
        payload: Event = envelope.payload()
    except LookupError:
        return  # an event type this version does not know: nothing to project
    if not await claim_event(conn, inbox, CONSUMER, envelope.id):
        return
    await _apply(conn, payload)


def handler(runtime: Runtime, _context: object) -> Handler:
    """The consumer of group "reports" (`ConsumerSpec`): each event in its own transaction."""
    async def handle(envelope: Envelope) -> None:
        async with runtime.engine.begin() as conn:
            await apply_user_event(conn, envelope)

    return handle
