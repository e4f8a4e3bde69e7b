"""In-app inbox: events from the other services become per-user notices (ids and facts only).

Consumer group "gateway" on tandem.pairing / session / record / dispute / report. Each event's effect
commits with its `claim_event` mark, so a redelivered event adds nothing twice. The gateway's own
changes that others must hear of (a privileged role granted) write their notices with `notify`, in
the change's own transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.gateway.accounts.tables import user_roles, users
from services.gateway.adapters.db import inbox
from services.gateway.inbox.tables import inbox_items, pairing_members
from shared.db import claim_event
from shared.events import Envelope, Event
from shared.events import types as t
from shared.logging import get_logger

log = get_logger("tandem.gateway.inbox")

CONSUMER = "gateway-inbox"
STREAMS = ("tandem.pairing", "tandem.session", "tandem.record", "tandem.dispute", "tandem.report")
SAFEGUARDING_EVENTS = (t.ReportFiled, t.ReportUrgent, t.ReportOverdue)


async def _pair(conn: AsyncConnection, pairing_id: str) -> list[str]:
    row = (await conn.execute(sa.select(pairing_members).where(pairing_members.c.pairing_id == pairing_id))).first()
    return [row.mentor_id, row.mentee_id] if row else []


async def _remember_pair(conn: AsyncConnection, pairing_id: str, mentor_id: str, mentee_id: str) -> None:
    values = {"pairing_id": pairing_id, "mentor_id": mentor_id, "mentee_id": mentee_id}
    insert: Any = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(insert(pairing_members).values(**values).on_conflict_do_nothing())


async def _with_role(conn: AsyncConnection, role: str) -> list[str]:
    rows = await conn.execute(sa.select(user_roles.c.user_id).join(users, users.c.id == user_roles.c.user_id)
                              .where(user_roles.c.role == role, users.c.status == "active"))
    return [r.user_id for r in rows]


async def _safeguarding(conn: AsyncConnection) -> list[str]:
    return await _with_role(conn, "safeguarding")


# Dispute states another admin must act on (four-eyes decisions, break-glass review).
ADMIN_DISPUTE_STATES = frozenset({"opened", "access_requested", "break_glass"})


async def recipients(conn: AsyncConnection, payload: Event) -> tuple[list[str], str, dict[str, Any]]:
    """(user ids, subject id, facts) for one event."""
    if isinstance(payload, t.PairingProposed | t.PairingActivated | t.PairingDeclined | t.PairingEnded):
        await _remember_pair(conn, payload.pairing_id, payload.mentor_id, payload.mentee_id)
        return [payload.mentor_id, payload.mentee_id], payload.pairing_id, {"pairing_id": payload.pairing_id}
    if isinstance(payload, t.PairingTermChanged):
        await _remember_pair(conn, payload.pairing_id, payload.mentor_id, payload.mentee_id)
        term: dict[str, Any] = {"pairing_id": payload.pairing_id, "change": payload.change,
                                "ends_at": payload.ends_at.isoformat()}
        if payload.proposed_until is not None:
            term["proposed_until"] = payload.proposed_until.isoformat()
        return [payload.mentor_id, payload.mentee_id], payload.pairing_id, term
    if isinstance(payload, t.SessionScheduled):
        return (await _pair(conn, payload.pairing_id), payload.session_id,
                {"session_id": payload.session_id, "pairing_id": payload.pairing_id,
                 "starts_at": payload.starts_at.isoformat(), "ends_at": payload.ends_at.isoformat()})
    if isinstance(payload, t.SessionCancelled):
        return (await _pair(conn, payload.pairing_id), payload.session_id,
                {"session_id": payload.session_id, "pairing_id": payload.pairing_id})
    if isinstance(payload, t.RecordingStarted | t.RecordingStopped):
        facts: dict[str, Any] = {"session_id": payload.session_id, "recording_id": payload.recording_id}
        if isinstance(payload, t.RecordingStopped):
            facts["reason"] = t.reason_for_members(payload.reason)
        return await _pair(conn, payload.pairing_id), payload.recording_id, facts
    if isinstance(payload, t.RecordCreated):
        return (await _pair(conn, payload.pairing_id), payload.record_id,
                {"record_id": payload.record_id, "kind": payload.kind, "pairing_id": payload.pairing_id})
    if isinstance(payload, t.RecordAccessed):
        return (list(payload.member_ids), payload.record_id,
                {"record_id": payload.record_id, "dispute_id": payload.dispute_id,
                 "accessor_role": payload.accessor_role, "break_glass": payload.break_glass})
    if isinstance(payload, t.DisputeChanged):
        people = list(payload.member_ids)
        if payload.state in ADMIN_DISPUTE_STATES:
            people += [u for u in await _with_role(conn, "admin") if u != payload.actor_id and u not in people]
        return (people, payload.dispute_id,
                {"dispute_id": payload.dispute_id, "session_id": payload.session_id, "state": payload.state,
                 "break_glass": payload.state == "break_glass"})
    if isinstance(payload, SAFEGUARDING_EVENTS):
        facts = {"report_id": payload.report_id}
        if isinstance(payload, t.ReportFiled):
            facts["urgent"] = payload.urgent
        # Every active officer by this service's own roles, except whom reports withholds (the subject).
        officers = [u for u in await _safeguarding(conn) if u not in payload.withheld_from]
        return officers, payload.report_id, facts
    return [], "", {}


async def notify(conn: AsyncConnection, people: list[str], kind: str, subject_id: str, facts: dict[str, Any],
                 now: datetime) -> int:
    """Notices written by the gateway's own changes (not from an event), in the caller's transaction, so
    the notice exists exactly when the change does. Returns how many people were told."""
    rows = [{"id": uuid.uuid4().hex, "user_id": uid, "kind": kind, "subject_id": subject_id,
             "facts": json.dumps(facts), "created_at": now} for uid in dict.fromkeys(people) if uid]
    if rows:
        await conn.execute(sa.insert(inbox_items), rows)
    return len(rows)


PRIVILEGED_GRANT = "user.privileged_role_granted"


async def tell_privileged_grant(conn: AsyncConnection, user_id: str, role: str, granted_by: str,
                                now: datetime) -> int:
    """Every other active admin, and for safeguarding every other active officer, learns that `user_id`
    was given `role` (by an admin's id, or `federation` for an upstream's role claim)."""
    told = await _with_role(conn, "admin")
    if role == "safeguarding":  # the officers learn who now reads their cases
        told += await _with_role(conn, "safeguarding")
    return await notify(conn, [u for u in told if u not in (granted_by, user_id)], PRIVILEGED_GRANT, user_id,
                        {"user_id": user_id, "role": role, "granted_by": granted_by}, now)


class Inbox:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def handler(self) -> Callable[[Envelope], Awaitable[None]]:
        async def handle(envelope: Envelope) -> None:
            try:
                payload: Event = envelope.payload()
            except LookupError:
                log.info("inbox.unknown_event", event_type=envelope.type)
                return
            async with self.engine.begin() as conn:
                if not await claim_event(conn, inbox, CONSUMER, envelope.id):
                    return
                people, subject_id, facts = await recipients(conn, payload)
                await notify(conn, people, envelope.type, subject_id, facts,
                             datetime.fromtimestamp(self.clock(), UTC))

        return handle

    async def items(self, user_id: str, *, unread_only: bool, limit: int) -> tuple[list[dict[str, Any]], int]:
        async with self.engine.connect() as conn:
            query = sa.select(inbox_items).where(inbox_items.c.user_id == user_id)
            if unread_only:
                query = query.where(inbox_items.c.read_at.is_(None))
            rows = (await conn.execute(query.order_by(inbox_items.c.created_at.desc(), inbox_items.c.id)
                                       .limit(limit))).mappings().all()
            unread = (await conn.execute(sa.select(sa.func.count()).select_from(inbox_items).where(
                inbox_items.c.user_id == user_id, inbox_items.c.read_at.is_(None)))).scalar_one()
        return [{"id": r["id"], "kind": r["kind"], "subject_id": r["subject_id"], "facts": json.loads(r["facts"]),
                 "created_at": _iso(r["created_at"]), "read": r["read_at"] is not None} for r in rows], int(unread)

    async def mark_read(self, user_id: str, item_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(sa.update(inbox_items).where(
                inbox_items.c.id == item_id, inbox_items.c.user_id == user_id, inbox_items.c.read_at.is_(None))
                .values(read_at=datetime.fromtimestamp(self.clock(), UTC)))
            if result.rowcount:
                return True
            exists = (await conn.execute(sa.select(inbox_items.c.id).where(
                inbox_items.c.id == item_id, inbox_items.c.user_id == user_id))).first()
            return exists is not None


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()
