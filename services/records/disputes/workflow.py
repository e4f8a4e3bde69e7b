"""The dispute workflow: the only path by which an admin reaches a record's content.

State machine (illegal transitions → 409):

    open ──request-access──▶ pending ──approve──▶ approved ──request-access──▶ pending …
      │                         └──reject───▶ rejected ──request-access──▶ pending
      └─ open/pending/approved/rejected ──break-glass──▶ break_glass ──review──▶ open | pending
    open/pending/approved/rejected ──close──▶ closed   (break_glass must be reviewed first)

Every transition is written to the audit ledger first (fail closed: no ledger, no transition; the
reason is stored there sealed and nowhere else), then applied in one transaction together with its
`dispute.changed` event. Opening places a legal hold on the session's records; closing lifts it
unless another open dispute on the same session still needs it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.records.audit.service import Ledger, LedgerUnavailable
from services.records.config import Settings
from services.records.disputes import schemas as s
from services.records.disputes.common import OPEN_STATES, Row, ledgered, load, members, summary
from services.records.disputes.tables import dispute_events, dispute_grants, disputes
from services.records.lifecycle.service import Lifecycle
from services.records.lifecycle.tables import records
from services.records.pairings.service import get_pairing, session_pairing
from shared.clock import Clock, utcnow
from shared.events.types import DisputeChanged
from shared.http import Conflict, Forbidden, NotFound, Unprocessable
from shared.identity import Identity
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger("tandem.records.disputes")

Extra = Callable[[AsyncConnection, datetime], Awaitable[None]]


def _illegal(action: str, state: str) -> Conflict:
    return Conflict(f"A dispute in state '{state}' cannot be {action}.", slug="illegal-transition",
                    extra={"state": state, "action": action})


class _Lost(Exception):
    """Another transition won the race for this dispute."""


async def _session_pairing(conn: AsyncConnection, session_id: str) -> str | None:
    """session → pairing from the sessions projection, else from the recordings' own metadata."""
    pid = await session_pairing(conn, session_id)
    if pid is None:
        pid = (await conn.execute(sa.select(records.c.pairing_id).where(
            records.c.session_id == session_id, records.c.pairing_id.is_not(None)).limit(1))).scalar()
    return pid


async def _lock_session(conn: AsyncConnection, session_id: str) -> None:
    """Serialise opening and closing disputes of one session (PostgreSQL row locks; SQLite has one
    writer anyway), so two disputes can never lift each other's hold."""
    await conn.execute(sa.select(disputes.c.id).where(disputes.c.session_id == session_id)
                       .order_by(disputes.c.id).with_for_update())


async def _check_records(conn: AsyncConnection, session_id: str, record_ids: Sequence[str]) -> None:
    found = {r[0] for r in await conn.execute(sa.select(records.c.id).where(
        records.c.id.in_(list(record_ids)), records.c.session_id == session_id, records.c.state == "active"))}
    missing = [rid for rid in record_ids if rid not in found]
    if missing:
        raise Unprocessable("Some records are not live records of this dispute's session.",
                            slug="record-not-in-session", extra={"record_ids": missing})


async def _grant(conn: AsyncConnection, dispute_id: str, admin_id: str, record_id: str, now: datetime,
                 hours: int, *, granted_by: str, break_glass: bool) -> None:
    await conn.execute(sa.insert(dispute_grants).values(
        id=secrets.token_hex(16), dispute_id=dispute_id, admin_id=admin_id, record_id=record_id, starts_at=now,
        expires_at=now + timedelta(hours=hours), granted_by=granted_by, break_glass=break_glass))


def _role(identity: Identity, mentor_id: str | None = None) -> str:
    if identity.has("admin"):
        return "admin"
    if mentor_id is not None and identity.sub == mentor_id:
        return "mentor"
    return "mentee" if identity.has("mentee") else "mentor"


def _four_eyes(row: Row, actor: Identity, *, grantees: Sequence[str] = ()) -> None:
    if actor.sub in (row.opened_by, row.requested_by) or actor.sub in grantees:
        raise Forbidden("Another admin must decide: not the one who opened the dispute, asked for access, "
                        "or would be granted it.", slug="four-eyes")


def _cleared_request() -> dict[str, Any]:
    return {"requested_by": None, "requested_at": None, "request_admin_ids": None, "request_record_ids": None,
            "request_window_hours": None}


@dataclass(frozen=True, kw_only=True)
class DisputeWorkflow:
    engine: AsyncEngine
    lifecycle: Lifecycle  # holds the session's records while a dispute stands
    ledger: Ledger
    outbox: Outbox
    settings: Settings
    clock: Clock = utcnow

    async def _transition(self, row: Row, *, actor: Identity, actor_role: str, action: str, to_state: str,
                          event_state: str, reason: str, values: dict[str, Any] | None = None,
                          extra: Extra | None = None, detail: str | None = None, lock: bool = False) -> Row:
        now = self.clock()
        target = f"dispute:{row.id}"
        event_id, seq = await ledgered(self.ledger, actor=actor.sub, action=f"dispute.{action}", target=target,
                                       reason=reason, at=now)
        try:
            async with self.engine.begin() as conn:
                if lock:
                    await _lock_session(conn, row.session_id)
                moved = await conn.execute(
                    sa.update(disputes).where(disputes.c.id == row.id, disputes.c.version == row.version)
                    .values(state=to_state, version=row.version + 1, updated_at=now, **(values or {})))
                if not moved.rowcount:
                    raise _Lost
                await conn.execute(sa.insert(dispute_events).values(
                    id=secrets.token_hex(16), dispute_id=row.id, action=action, state=to_state, actor_id=actor.sub,
                    actor_role=actor_role, at=now, ledger_event_id=event_id, ledger_seq=seq, detail=detail))
                if to_state != "closed":
                    # Re-applied on every transition, so records that arrived after the dispute opened are held too.
                    await self.lifecycle.hold_session(conn, row.session_id, actor=actor.sub)
                if extra is not None:
                    await extra(conn, now)
                await self.outbox.add(conn, DisputeChanged(
                    dispute_id=row.id, session_id=row.session_id, pairing_id=row.pairing_id, state=event_state,
                    actor_id=actor.sub, member_ids=await members(conn, row.pairing_id)), subject=row.id)
                new = (await conn.execute(sa.select(disputes).where(disputes.c.id == row.id))).one()
        except _Lost:
            # The ledger already holds the attempt: record that it did not take effect (best effort).
            with contextlib.suppress(LedgerUnavailable):
                await ledgered(self.ledger, actor=actor.sub, action=f"dispute.{action}", target=target, reason=None,
                               at=now, outcome="failure")
            raise Conflict("The dispute changed meanwhile; reload it.", slug="dispute-changed") from None
        log.info("disputes.transition", dispute_id=row.id, action=action, state=to_state)
        return new

    async def open_dispute(self, actor: Identity, body: s.DisputeOpen) -> s.DisputeSummary:
        """A pair member (about their own session) or an admin opens a dispute; the hold is placed at once."""
        row = await self._open(actor, body.session_id, body.reason)
        return summary(row)

    async def _open(self, actor: Identity, session_id: str, reason: str, *, action: str = "open",
                    state: str = "open", event_state: str = "opened", extra_values: dict[str, Any] | None = None,
                    record_ids: Sequence[str] = ()) -> Row:
        async with self.engine.connect() as conn:
            pairing_id = await _session_pairing(conn, session_id)
            pairing = await get_pairing(conn, pairing_id) if pairing_id else None
            if record_ids:
                await _check_records(conn, session_id, record_ids)
        if pairing_id is None:
            raise NotFound("No such session.", slug="session-not-found")
        if not actor.has("admin") and (pairing is None or not pairing.has_member(actor.sub)):
            raise NotFound("No such session.", slug="session-not-found")  # other pairs' sessions stay invisible
        role = _role(actor, pairing.mentor_id if pairing else None)
        dispute_id = secrets.token_hex(16)
        now = self.clock()
        event_id, seq = await ledgered(self.ledger, actor=actor.sub, action=f"dispute.{action}",
                                       target=f"dispute:{dispute_id}", reason=reason, at=now)
        async with self.engine.begin() as conn:
            await _lock_session(conn, session_id)
            await conn.execute(sa.insert(disputes).values(
                id=dispute_id, session_id=session_id, pairing_id=pairing_id, state=state, version=1,
                opened_by=actor.sub, opened_by_role=role, opened_at=now, updated_at=now, **(extra_values or {})))
            await conn.execute(sa.insert(dispute_events).values(
                id=secrets.token_hex(16), dispute_id=dispute_id, action=action, state=state, actor_id=actor.sub,
                actor_role=role, at=now, ledger_event_id=event_id, ledger_seq=seq))
            held = await self.lifecycle.hold_session(conn, session_id, actor=actor.sub)
            for rid in record_ids:
                await _grant(conn, dispute_id, actor.sub, rid, now, self.settings.dispute_break_glass_hours,
                             granted_by=actor.sub, break_glass=True)
            await self.outbox.add(conn, DisputeChanged(
                dispute_id=dispute_id, session_id=session_id, pairing_id=pairing_id, state=event_state,
                actor_id=actor.sub, member_ids=await members(conn, pairing_id)), subject=dispute_id)
            row = (await conn.execute(sa.select(disputes).where(disputes.c.id == dispute_id))).one()
        log.info("disputes.opened", dispute_id=dispute_id, session_id=session_id, records_held=held,
                 break_glass=state == "break_glass")
        return row

    async def _current(self, dispute_id: str, action: str, allowed: Sequence[str]) -> Row:
        async with self.engine.connect() as conn:
            row = await load(conn, dispute_id)
        if row.state not in allowed:
            if row.state == "break_glass" and action in ("closed", "approved", "rejected", "given an access request"):
                raise Conflict("A break-glass access must be reviewed by another admin first.",
                               slug="review-required", extra={"state": row.state, "action": action})
            raise _illegal(action, row.state)
        return row

    async def request_access(self, actor: Identity, dispute_id: str, body: s.AccessRequest) -> s.DisputeSummary:
        row = await self._current(dispute_id, "given an access request", ("open", "approved", "rejected"))
        hours = body.window_hours or self.settings.dispute_window_hours
        if hours > self.settings.dispute_max_window_hours:
            raise Unprocessable(f"The window may not exceed {self.settings.dispute_max_window_hours} hours.",
                                slug="window-too-long")
        admins, rids = sorted(set(body.admin_ids)), sorted(set(body.record_ids))
        async with self.engine.connect() as conn:
            await _check_records(conn, row.session_id, rids)
        new = await self._transition(
            row, actor=actor, actor_role="admin", action="request_access", to_state="pending",
            event_state="access_requested", reason=body.reason,
            values={"requested_by": actor.sub, "requested_at": self.clock(), "request_admin_ids": json.dumps(admins),
                    "request_record_ids": json.dumps(rids), "request_window_hours": hours})
        return summary(new)

    async def approve(self, actor: Identity, dispute_id: str, body: s.Decision) -> s.DisputeSummary:
        row = await self._current(dispute_id, "approved", ("pending",))
        admins: list[str] = json.loads(row.request_admin_ids)
        rids: list[str] = json.loads(row.request_record_ids)
        _four_eyes(row, actor, grantees=admins)
        hours = int(row.request_window_hours)

        async def grant(conn: AsyncConnection, now: datetime) -> None:
            for admin in admins:
                for rid in rids:
                    await _grant(conn, row.id, admin, rid, now, hours, granted_by=actor.sub, break_glass=False)

        new = await self._transition(row, actor=actor, actor_role="admin", action="approve", to_state="approved",
                                     event_state="approved", reason=body.reason, values=_cleared_request(),
                                     extra=grant)
        return summary(new)

    async def reject(self, actor: Identity, dispute_id: str, body: s.Decision) -> s.DisputeSummary:
        row = await self._current(dispute_id, "rejected", ("pending",))
        _four_eyes(row, actor)
        new = await self._transition(row, actor=actor, actor_role="admin", action="reject", to_state="rejected",
                                     event_state="rejected", reason=body.reason, values=_cleared_request())
        return summary(new)

    async def close(self, actor: Identity, dispute_id: str, body: s.CloseDispute) -> s.DisputeSummary:
        row = await self._current(dispute_id, "closed", ("open", "pending", "approved", "rejected"))

        async def release(conn: AsyncConnection, now: datetime) -> None:
            await conn.execute(sa.update(dispute_grants).where(dispute_grants.c.dispute_id == row.id,
                                                               dispute_grants.c.revoked_at.is_(None))
                               .values(revoked_at=now))
            # Read after our own update, with every dispute of the session locked: exact, not a snapshot.
            others = (await conn.execute(sa.select(sa.func.count()).select_from(disputes).where(
                disputes.c.session_id == row.session_id, disputes.c.id != row.id,
                disputes.c.state.in_(OPEN_STATES)))).scalar_one()
            if others:
                log.info("disputes.hold_kept", dispute_id=row.id, other_open=int(others))
                return
            await self.lifecycle.release_session_hold(conn, row.session_id, actor=actor.sub)

        values = {**_cleared_request(), "closed_at": self.clock(), "outcome": body.outcome}
        new = await self._transition(row, actor=actor, actor_role="admin", action="close", to_state="closed",
                                     event_state="closed", reason=body.reason, values=values, extra=release,
                                     detail=body.outcome, lock=True)
        return summary(new)

    async def break_glass(self, actor: Identity, dispute_id: str, body: s.BreakGlass) -> s.DisputeSummary:
        """Emergency: one admin reads at once; flagged to the pair (and other admins) and reviewed after."""
        row = await self._current(dispute_id, "broken open", ("open", "pending", "approved", "rejected"))
        rids = sorted(set(body.record_ids))
        async with self.engine.connect() as conn:
            await _check_records(conn, row.session_id, rids)
        hours = self.settings.dispute_break_glass_hours

        async def grant(conn: AsyncConnection, now: datetime) -> None:
            for rid in rids:
                await _grant(conn, row.id, actor.sub, rid, now, hours, granted_by=actor.sub, break_glass=True)

        new = await self._transition(row, actor=actor, actor_role="admin", action="break_glass",
                                     to_state="break_glass", event_state="break_glass", reason=body.reason,
                                     extra=grant, values={"break_glass_by": actor.sub, "break_glass_at": self.clock()})
        log.warning("disputes.break_glass", dispute_id=row.id, records=len(rids))
        return summary(new)

    async def break_glass_open(self, actor: Identity, body: s.BreakGlassOpen) -> s.DisputeSummary:
        """Open a dispute and break the glass in one step (no time to open first)."""
        row = await self._open(actor, body.session_id, body.reason, action="break_glass", state="break_glass",
                               event_state="break_glass", record_ids=sorted(set(body.record_ids)),
                               extra_values={"break_glass_by": actor.sub, "break_glass_at": self.clock()})
        log.warning("disputes.break_glass", dispute_id=row.id, records=len(body.record_ids))
        return summary(row)

    async def review(self, actor: Identity, dispute_id: str, body: s.Review) -> s.DisputeSummary:
        row = await self._current(dispute_id, "reviewed", ("break_glass",))
        if actor.sub == row.break_glass_by:
            raise Forbidden("Another admin must review a break-glass access.", slug="four-eyes")

        async def settle(conn: AsyncConnection, now: datetime) -> None:
            if body.verdict == "unjustified":  # the emergency access ends now
                await conn.execute(sa.update(dispute_grants).where(
                    dispute_grants.c.dispute_id == row.id, dispute_grants.c.break_glass.is_(True),
                    dispute_grants.c.revoked_at.is_(None)).values(revoked_at=now))

        to_state = "pending" if row.requested_by else "open"
        new = await self._transition(row, actor=actor, actor_role="admin", action="review", to_state=to_state,
                                     event_state="reviewed", reason=body.reason, extra=settle, detail=body.verdict)
        return summary(new)
