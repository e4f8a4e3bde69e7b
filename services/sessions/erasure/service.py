"""A member's erasure (`user.erasure_requested`) across the programme features of this service: their
profile, questionnaire answers (both sealed parts), preferences, the conflicts of interest naming them, and
their check-in plan and answers go, in one transaction, once per event. (Agendas: meetings/agenda.py;
reflections: evaluation/service.py; a mentoring agreement belongs to both members and goes with its
pairing.) Rows are deleted, not blanked: on SQLite `secure_delete` zeroes the freed cells and the WAL is
truncated afterwards (`reclaim`); on PostgreSQL the dead rows go at the next vacuum (docs/sessions.md)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.sessions.adapters.db import inbox
from services.sessions.checkins.tables import answers as checkin_answers
from services.sessions.checkins.tables import plans as checkin_plans
from services.sessions.matching.tables import conflicts, preferences
from services.sessions.meetings.agenda import reclaim
from services.sessions.profiles.tables import profiles
from services.sessions.questionnaire.tables import answers
from shared.db import claim_event
from shared.events import Envelope
from shared.events import types as t
from shared.logging import get_logger

log = get_logger("tandem.sessions.erasure")
CONSUMER = "sessions.programme"


async def erase_member(conn: AsyncConnection, user_id: str) -> int:
    """Delete everything of the programme features about `user_id`; the number of rows deleted."""
    deleted = 0
    for statement in (
        sa.delete(profiles).where(profiles.c.user_id == user_id),
        sa.delete(answers).where(answers.c.user_id == user_id),
        sa.delete(preferences).where(preferences.c.mentee_id == user_id),
        sa.delete(conflicts).where(sa.or_(conflicts.c.mentee_id == user_id, conflicts.c.mentor_id == user_id,
                                          conflicts.c.declared_by == user_id)),
        sa.delete(checkin_answers).where(checkin_answers.c.user_id == user_id),
        sa.delete(checkin_plans).where(checkin_plans.c.user_id == user_id),
    ):
        deleted += int((await conn.execute(statement)).rowcount or 0)
    return deleted


async def on_user_event(engine: AsyncEngine, envelope: Envelope) -> None:
    if envelope.type != t.UserErasureRequested.TYPE:
        return
    request = envelope.payload(t.UserErasureRequested)
    async with engine.begin() as conn:
        if not await claim_event(conn, inbox, CONSUMER, envelope.id):
            return
        deleted = await erase_member(conn, request.user_id)
    await reclaim(engine)
    log.info("sessions.programme_data_erased", request_id=request.request_id, rows=deleted)
