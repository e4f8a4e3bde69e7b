"""What the dispute workflow, its views and dispute access share: loading a dispute, its pair, its
summary, live grants, and writing to the audit ledger first (fail closed)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.records.audit.service import Ledger, record_access_or_fail
from services.records.disputes import schemas as s
from services.records.disputes.tables import dispute_grants, disputes
from services.records.pairings.service import get_pairing
from shared.clock import aware
from shared.http import Forbidden, NotFound

OPEN_STATES = ("open", "pending", "approved", "rejected", "break_glass")  # every state but closed
Row = sa.Row[Any]


def dispute_not_found() -> NotFound:
    return NotFound("No such dispute.", slug="dispute-not-found")


def no_access() -> Forbidden:
    return Forbidden("No current dispute grant lets you read this record.", slug="no-dispute-access")


def under_dispute(session_id: str) -> sa.ColumnElement[bool]:
    """True while a dispute about the session is open (in any state but closed)."""
    return sa.exists().where(disputes.c.session_id == session_id, disputes.c.state.in_(OPEN_STATES))


def live_grant(admin_id: str, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(dispute_grants.c.admin_id == admin_id, dispute_grants.c.revoked_at.is_(None),
                   dispute_grants.c.starts_at <= now, dispute_grants.c.expires_at > now)


async def load(conn: AsyncConnection, dispute_id: str) -> Row:
    row = (await conn.execute(sa.select(disputes).where(disputes.c.id == dispute_id))).first()
    if row is None:
        raise dispute_not_found()
    return row


async def members(conn: AsyncConnection, pairing_id: str) -> list[str]:
    pairing = await get_pairing(conn, pairing_id)
    return list(pairing.members) if pairing else []


def summary(row: Row) -> s.DisputeSummary:
    return s.DisputeSummary(
        id=row.id, session_id=row.session_id, pairing_id=row.pairing_id, state=row.state, opened_by=row.opened_by,
        opened_by_role=row.opened_by_role, opened_at=aware(row.opened_at), updated_at=aware(row.updated_at),
        outcome=row.outcome, break_glass_unreviewed=row.state == "break_glass")


async def ledgered(ledger: Ledger, *, actor: str, action: str, target: str, reason: str | None, at: datetime,
                   outcome: str = "success") -> tuple[str, int]:
    """Write the entry into the ledger now (fail closed); its event id and chain position."""
    event_id = uuid.uuid4().hex
    receipt = await record_access_or_fail(ledger, actor=actor, action=action, target=target, outcome=outcome,
                                          reason=reason, event_id=event_id, occurred_at=at)
    return event_id, receipt.seq
