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
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.records.audit.service import LedgerUnavailable, ledger_of, record_access_or_fail
from services.records.audit.tables import audit_entries
from services.records.core.access import object_ref
from services.records.core.context import Records, aware
from services.records.core.tables import record_objects, records
from services.records.core.vault import ObjectRef
from services.records.disputes import schemas as s
from services.records.disputes.tables import dispute_accesses, dispute_events, dispute_grants, disputes
from services.records.pairings.service import get_pairing, pairings_of, session_pairing
from shared.crypto.errors import DecryptionError
from shared.events.types import AuditEntry, DisputeChanged, RecordAccessed
from shared.http import Conflict, Forbidden, Gone, NotFound, ServiceUnavailable, Unprocessable
from shared.identity import Identity
from shared.logging import get_logger
from shared.service import Runtime

log = get_logger("tandem.records.disputes")

OPEN_STATES = ("open", "pending", "approved", "rejected", "break_glass")  # every state but closed
Row = sa.Row[Any]


@dataclass
class Ctx:
    """What the workflow needs: the records resources (engine, clock, outbox, vault) and the runtime
    (the ledger lives there)."""

    runtime: Runtime
    rec: Records

    def now(self) -> datetime:
        return self.rec.clock()


def _not_found() -> NotFound:
    return NotFound("No such dispute.", slug="dispute-not-found")


def _illegal(action: str, state: str) -> Conflict:
    return Conflict(f"A dispute in state '{state}' cannot be {action}.", slug="illegal-transition",
                    extra={"state": state, "action": action})


def no_access() -> Forbidden:
    return Forbidden("No current dispute grant lets you read this record.", slug="no-dispute-access")


# -- reading ------------------------------------------------------------------------------------------


async def _load(conn: AsyncConnection, dispute_id: str) -> Row:
    row = (await conn.execute(sa.select(disputes).where(disputes.c.id == dispute_id))).first()
    if row is None:
        raise _not_found()
    return row


async def _members(conn: AsyncConnection, pairing_id: str) -> list[str]:
    pairing = await get_pairing(conn, pairing_id)
    return list(pairing.members) if pairing else []


async def _session_pairing(conn: AsyncConnection, session_id: str) -> str | None:
    """session → pairing from the sessions projection, else from the recordings' own metadata."""
    pid = await session_pairing(conn, session_id)
    if pid is None:
        pid = (await conn.execute(sa.select(records.c.pairing_id).where(
            records.c.session_id == session_id, records.c.pairing_id.is_not(None)).limit(1))).scalar()
    return pid


def summary(row: Row) -> s.DisputeSummary:
    return s.DisputeSummary(
        id=row.id, session_id=row.session_id, pairing_id=row.pairing_id, state=row.state, opened_by=row.opened_by,
        opened_by_role=row.opened_by_role, opened_at=aware(row.opened_at), updated_at=aware(row.updated_at),
        outcome=row.outcome, break_glass_unreviewed=row.state == "break_glass")


# -- transitions ----------------------------------------------------------------------------------------

Extra = Callable[[AsyncConnection, datetime], Awaitable[None]]


async def _lock_session(conn: AsyncConnection, session_id: str) -> None:
    """Serialise opening and closing disputes of one session (PostgreSQL row locks; SQLite has one
    writer anyway), so two disputes can never lift each other's hold."""
    await conn.execute(sa.select(disputes.c.id).where(disputes.c.session_id == session_id)
                       .order_by(disputes.c.id).with_for_update())


async def _hold(ctx: Ctx, conn: AsyncConnection, session_id: str, actor: str) -> int:
    """Legal hold on every live record of the session (the sweeper and erasure respect `legal_hold`).
    Re-applied on every transition, so records that arrived after the dispute opened are held too."""
    res = await conn.execute(sa.update(records).where(records.c.session_id == session_id, records.c.state == "active",
                                                      records.c.legal_hold.is_(False))
                             .values(legal_hold=True, updated_at=ctx.now()))
    n = int(res.rowcount or 0)
    if n and ctx.rec.outbox is not None:
        await ctx.rec.outbox.add(conn, AuditEntry(actor=actor, action="record.legal_hold.placed",
                                                  target=f"session:{session_id}", outcome="success"))
    return n


async def _ledger(ctx: Ctx, *, actor: str, action: str, target: str, reason: str | None, at: datetime,
                  outcome: str = "success") -> tuple[str, int]:
    """Write the entry into the ledger now (fail closed); its event id and chain position."""
    event_id = uuid.uuid4().hex
    receipt = await record_access_or_fail(ctx.runtime, actor=actor, action=action, target=target, outcome=outcome,
                                          reason=reason, event_id=event_id, occurred_at=at)
    return event_id, receipt.seq


class _Lost(Exception):
    """Another transition won the race for this dispute."""


async def _transition(ctx: Ctx, row: Row, *, actor: Identity, actor_role: str, action: str, to_state: str,
                      event_state: str, reason: str, values: dict[str, Any] | None = None,
                      extra: Extra | None = None, detail: str | None = None, lock: bool = False) -> Row:
    now = ctx.now()
    target = f"dispute:{row.id}"
    event_id, seq = await _ledger(ctx, actor=actor.sub, action=f"dispute.{action}", target=target, reason=reason,
                                  at=now)
    try:
        async with ctx.rec.engine.begin() as conn:
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
                await _hold(ctx, conn, row.session_id, actor.sub)
            if extra is not None:
                await extra(conn, now)
            if ctx.rec.outbox is not None:
                await ctx.rec.outbox.add(conn, DisputeChanged(
                    dispute_id=row.id, session_id=row.session_id, pairing_id=row.pairing_id, state=event_state,
                    actor_id=actor.sub, member_ids=await _members(conn, row.pairing_id)), subject=row.id)
            new = (await conn.execute(sa.select(disputes).where(disputes.c.id == row.id))).one()
    except _Lost:
        # The ledger already holds the attempt: record that it did not take effect (best effort).
        with contextlib.suppress(LedgerUnavailable):
            await _ledger(ctx, actor=actor.sub, action=f"dispute.{action}", target=target, reason=None, at=now,
                          outcome="failure")
        raise Conflict("The dispute changed meanwhile; reload it.", slug="dispute-changed") from None
    log.info("disputes.transition", dispute_id=row.id, action=action, state=to_state)
    return new


def _role(identity: Identity, mentor_id: str | None = None) -> str:
    if identity.has("admin"):
        return "admin"
    if mentor_id is not None and identity.sub == mentor_id:
        return "mentor"
    return "mentee" if identity.has("mentee") else "mentor"


async def open_dispute(ctx: Ctx, actor: Identity, body: s.DisputeOpen) -> s.DisputeSummary:
    """A pair member (about their own session) or an admin opens a dispute; the hold is placed at once."""
    row = await _open(ctx, actor, body.session_id, body.reason)
    return summary(row)


async def _open(ctx: Ctx, actor: Identity, session_id: str, reason: str, *, action: str = "open",
                state: str = "open", event_state: str = "opened", extra_values: dict[str, Any] | None = None,
                record_ids: Sequence[str] = ()) -> Row:
    async with ctx.rec.engine.connect() as conn:
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
    now = ctx.now()
    event_id, seq = await _ledger(ctx, actor=actor.sub, action=f"dispute.{action}", target=f"dispute:{dispute_id}",
                                  reason=reason, at=now)
    async with ctx.rec.engine.begin() as conn:
        await _lock_session(conn, session_id)
        await conn.execute(sa.insert(disputes).values(
            id=dispute_id, session_id=session_id, pairing_id=pairing_id, state=state, version=1,
            opened_by=actor.sub, opened_by_role=role, opened_at=now, updated_at=now, **(extra_values or {})))
        await conn.execute(sa.insert(dispute_events).values(
            id=secrets.token_hex(16), dispute_id=dispute_id, action=action, state=state, actor_id=actor.sub,
            actor_role=role, at=now, ledger_event_id=event_id, ledger_seq=seq))
        held = await _hold(ctx, conn, session_id, actor.sub)
        for rid in record_ids:
            await _grant(conn, dispute_id, actor.sub, rid, now, ctx.rec.settings.dispute_break_glass_hours,
                         granted_by=actor.sub, break_glass=True)
        members = await _members(conn, pairing_id)
        if ctx.rec.outbox is not None:
            await ctx.rec.outbox.add(conn, DisputeChanged(
                dispute_id=dispute_id, session_id=session_id, pairing_id=pairing_id, state=event_state,
                actor_id=actor.sub, member_ids=members), subject=dispute_id)
        row = (await conn.execute(sa.select(disputes).where(disputes.c.id == dispute_id))).one()
    log.info("disputes.opened", dispute_id=dispute_id, session_id=session_id, records_held=held,
             break_glass=state == "break_glass")
    return row


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


async def _current(ctx: Ctx, dispute_id: str, action: str, allowed: Sequence[str]) -> Row:
    async with ctx.rec.engine.connect() as conn:
        row = await _load(conn, dispute_id)
    if row.state not in allowed:
        if row.state == "break_glass" and action in ("closed", "approved", "rejected", "given an access request"):
            raise Conflict("A break-glass access must be reviewed by another admin first.", slug="review-required",
                           extra={"state": row.state, "action": action})
        raise _illegal(action, row.state)
    return row


async def request_access(ctx: Ctx, actor: Identity, dispute_id: str, body: s.AccessRequest) -> s.DisputeSummary:
    row = await _current(ctx, dispute_id, "given an access request", ("open", "approved", "rejected"))
    hours = body.window_hours or ctx.rec.settings.dispute_window_hours
    if hours > ctx.rec.settings.dispute_max_window_hours:
        raise Unprocessable(f"The window may not exceed {ctx.rec.settings.dispute_max_window_hours} hours.",
                            slug="window-too-long")
    admins, rids = sorted(set(body.admin_ids)), sorted(set(body.record_ids))
    async with ctx.rec.engine.connect() as conn:
        await _check_records(conn, row.session_id, rids)
    new = await _transition(
        ctx, row, actor=actor, actor_role="admin", action="request_access", to_state="pending",
        event_state="access_requested", reason=body.reason,
        values={"requested_by": actor.sub, "requested_at": ctx.now(), "request_admin_ids": json.dumps(admins),
                "request_record_ids": json.dumps(rids), "request_window_hours": hours})
    return summary(new)


def _four_eyes(row: Row, actor: Identity, *, grantees: Sequence[str] = ()) -> None:
    if actor.sub in (row.opened_by, row.requested_by) or actor.sub in grantees:
        raise Forbidden("Another admin must decide: not the one who opened the dispute, asked for access, "
                        "or would be granted it.", slug="four-eyes")


def _cleared_request() -> dict[str, Any]:
    return {"requested_by": None, "requested_at": None, "request_admin_ids": None, "request_record_ids": None,
            "request_window_hours": None}


async def approve(ctx: Ctx, actor: Identity, dispute_id: str, body: s.Decision) -> s.DisputeSummary:
    row = await _current(ctx, dispute_id, "approved", ("pending",))
    admins: list[str] = json.loads(row.request_admin_ids)
    rids: list[str] = json.loads(row.request_record_ids)
    _four_eyes(row, actor, grantees=admins)
    hours = int(row.request_window_hours)

    async def grant(conn: AsyncConnection, now: datetime) -> None:
        for admin in admins:
            for rid in rids:
                await _grant(conn, row.id, admin, rid, now, hours, granted_by=actor.sub, break_glass=False)

    new = await _transition(ctx, row, actor=actor, actor_role="admin", action="approve", to_state="approved",
                            event_state="approved", reason=body.reason, values=_cleared_request(), extra=grant)
    return summary(new)


async def reject(ctx: Ctx, actor: Identity, dispute_id: str, body: s.Decision) -> s.DisputeSummary:
    row = await _current(ctx, dispute_id, "rejected", ("pending",))
    _four_eyes(row, actor)
    new = await _transition(ctx, row, actor=actor, actor_role="admin", action="reject", to_state="rejected",
                            event_state="rejected", reason=body.reason, values=_cleared_request())
    return summary(new)


async def close(ctx: Ctx, actor: Identity, dispute_id: str, body: s.CloseDispute) -> s.DisputeSummary:
    row = await _current(ctx, dispute_id, "closed", ("open", "pending", "approved", "rejected"))

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
        res = await conn.execute(sa.update(records).where(records.c.session_id == row.session_id,
                                                          records.c.state == "active", records.c.legal_hold.is_(True))
                                 .values(legal_hold=False, updated_at=now))
        if res.rowcount and ctx.rec.outbox is not None:
            await ctx.rec.outbox.add(conn, AuditEntry(actor=actor.sub, action="record.legal_hold.lifted",
                                                      target=f"session:{row.session_id}", outcome="success"))

    values = {**_cleared_request(), "closed_at": ctx.now(), "outcome": body.outcome}
    new = await _transition(ctx, row, actor=actor, actor_role="admin", action="close", to_state="closed",
                            event_state="closed", reason=body.reason, values=values, extra=release,
                            detail=body.outcome, lock=True)
    return summary(new)


async def break_glass(ctx: Ctx, actor: Identity, dispute_id: str, body: s.BreakGlass) -> s.DisputeSummary:
    """Emergency: one admin reads at once; flagged to the pair (and other admins) and reviewed after."""
    row = await _current(ctx, dispute_id, "broken open", ("open", "pending", "approved", "rejected"))
    rids = sorted(set(body.record_ids))
    async with ctx.rec.engine.connect() as conn:
        await _check_records(conn, row.session_id, rids)
    hours = ctx.rec.settings.dispute_break_glass_hours

    async def grant(conn: AsyncConnection, now: datetime) -> None:
        for rid in rids:
            await _grant(conn, row.id, actor.sub, rid, now, hours, granted_by=actor.sub, break_glass=True)

    new = await _transition(ctx, row, actor=actor, actor_role="admin", action="break_glass", to_state="break_glass",
                            event_state="break_glass", reason=body.reason, extra=grant,
                            values={"break_glass_by": actor.sub, "break_glass_at": ctx.now()})
    log.warning("disputes.break_glass", dispute_id=row.id, records=len(rids))
    return summary(new)


async def break_glass_open(ctx: Ctx, actor: Identity, body: s.BreakGlassOpen) -> s.DisputeSummary:
    """Open a dispute and break the glass in one step (no time to open first)."""
    row = await _open(ctx, actor, body.session_id, body.reason, action="break_glass", state="break_glass",
                      event_state="break_glass", record_ids=sorted(set(body.record_ids)),
                      extra_values={"break_glass_by": actor.sub, "break_glass_at": ctx.now()})
    log.warning("disputes.break_glass", dispute_id=row.id, records=len(body.record_ids))
    return summary(row)


async def review(ctx: Ctx, actor: Identity, dispute_id: str, body: s.Review) -> s.DisputeSummary:
    row = await _current(ctx, dispute_id, "reviewed", ("break_glass",))
    if actor.sub == row.break_glass_by:
        raise Forbidden("Another admin must review a break-glass access.", slug="four-eyes")

    async def settle(conn: AsyncConnection, now: datetime) -> None:
        if body.verdict == "unjustified":  # the emergency access ends now
            await conn.execute(sa.update(dispute_grants).where(
                dispute_grants.c.dispute_id == row.id, dispute_grants.c.break_glass.is_(True),
                dispute_grants.c.revoked_at.is_(None)).values(revoked_at=now))

    to_state = "pending" if row.requested_by else "open"
    new = await _transition(ctx, row, actor=actor, actor_role="admin", action="review", to_state=to_state,
                            event_state="reviewed", reason=body.reason, extra=settle, detail=body.verdict)
    return summary(new)


# -- views ----------------------------------------------------------------------------------------------


async def list_disputes(ctx: Ctx, state: str | None, unreviewed: bool, limit: int) -> list[s.DisputeSummary]:
    query = sa.select(disputes).order_by(disputes.c.opened_at.desc(), disputes.c.id).limit(limit)
    if unreviewed:
        query = query.where(disputes.c.state == "break_glass")
    if state is not None:
        query = query.where(disputes.c.state == state)
    async with ctx.rec.engine.connect() as conn:
        return [summary(r) for r in await conn.execute(query)]


async def get_dispute(ctx: Ctx, actor: Identity, dispute_id: str) -> s.Dispute:
    """The full admin view. Reasons are decrypted from the ledger, so the read itself is ledgered first."""
    async with ctx.rec.engine.connect() as conn:
        row = await _load(conn, dispute_id)
    await _ledger(ctx, actor=actor.sub, action="dispute.read", target=f"dispute:{dispute_id}", reason=None,
                  at=ctx.now())
    ledger = ledger_of(ctx.runtime)
    async with ctx.rec.engine.connect() as conn:
        events = list(await conn.execute(sa.select(dispute_events).where(dispute_events.c.dispute_id == dispute_id)
                                         .order_by(dispute_events.c.ledger_seq)))
        sealed = {r.event_id: r.reason_sealed for r in await conn.execute(
            sa.select(audit_entries.c.event_id, audit_entries.c.reason_sealed)
            .where(audit_entries.c.event_id.in_([e.ledger_event_id for e in events])))}
        grants = list(await conn.execute(sa.select(dispute_grants).where(dispute_grants.c.dispute_id == dispute_id)
                                         .order_by(dispute_grants.c.starts_at, dispute_grants.c.id)))
        accesses = list(await conn.execute(sa.select(dispute_accesses)
                                           .where(dispute_accesses.c.dispute_id == dispute_id)
                                           .order_by(dispute_accesses.c.ledger_seq)))

    def reason(event_id: str) -> str | None:
        blob = sealed.get(event_id)
        if blob is None:
            return None
        try:
            return ledger.keys.open_reason(event_id, blob)
        except DecryptionError:
            return None

    base = summary(row)
    pending = None
    if row.requested_by:
        pending = s.PendingRequest(requested_by=row.requested_by, requested_at=aware(row.requested_at),
                                   admin_ids=json.loads(row.request_admin_ids),
                                   record_ids=json.loads(row.request_record_ids),
                                   window_hours=int(row.request_window_hours))
    return s.Dispute(
        **{f: getattr(base, f) for f in base.__struct_fields__}, pending_request=pending,
        transitions=[s.Transition(action=e.action, state=e.state, actor_id=e.actor_id, actor_role=e.actor_role,
                                  at=aware(e.at), detail=e.detail, reason=reason(e.ledger_event_id)) for e in events],
        grants=[s.Grant(admin_id=g.admin_id, record_id=g.record_id, starts_at=aware(g.starts_at),
                        expires_at=aware(g.expires_at), granted_by=g.granted_by, break_glass=g.break_glass,
                        revoked_at=aware(g.revoked_at)) for g in grants],
        accesses=[s.Access(record_id=a.record_id, admin_id=a.admin_id, range_start=a.range_start,
                           range_end=a.range_end, at=aware(a.at), break_glass=a.break_glass) for a in accesses])


async def my_disputes(ctx: Ctx, user_id: str) -> list[s.MemberDispute]:
    async with ctx.rec.engine.connect() as conn:
        pids = await pairings_of(conn, user_id)
        if not pids:
            return []
        rows = list(await conn.execute(sa.select(disputes).where(disputes.c.pairing_id.in_(pids))
                                       .order_by(disputes.c.opened_at.desc(), disputes.c.id)))
        ids = [r.id for r in rows]
        events = list(await conn.execute(sa.select(dispute_events).where(dispute_events.c.dispute_id.in_(ids))
                                         .order_by(dispute_events.c.ledger_seq)))
        accesses = list(await conn.execute(sa.select(dispute_accesses).where(dispute_accesses.c.dispute_id.in_(ids))
                                           .order_by(dispute_accesses.c.ledger_seq)))
    out = []
    for r in rows:
        out.append(s.MemberDispute(
            id=r.id, session_id=r.session_id, pairing_id=r.pairing_id, state=r.state,
            opened_by_me=r.opened_by == user_id, opened_by_role=r.opened_by_role, opened_at=aware(r.opened_at),
            updated_at=aware(r.updated_at), outcome=r.outcome,
            transitions=[s.MemberTransition(action=e.action, state=e.state, actor_role=e.actor_role, at=aware(e.at),
                                            detail=e.detail) for e in events if e.dispute_id == r.id],
            accesses=[s.MemberAccess(record_id=a.record_id, at=aware(a.at), accessor_role="admin",
                                     break_glass=a.break_glass) for a in accesses if a.dispute_id == r.id]))
    return out


def _live_grant(admin_id: str, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(dispute_grants.c.admin_id == admin_id, dispute_grants.c.revoked_at.is_(None),
                   dispute_grants.c.starts_at <= now, dispute_grants.c.expires_at > now)


async def session_records(ctx: Ctx, actor: Identity, dispute_id: str) -> list[s.SessionRecord]:
    """Metadata of the disputed session's records (what an access request can name); no content."""
    now = ctx.now()
    async with ctx.rec.engine.connect() as conn:
        row = await _load(conn, dispute_id)
        rows = list(await conn.execute(
            sa.select(records.c.id, records.c.kind, records.c.media_type, records.c.state, records.c.legal_hold,
                      record_objects.c.plaintext_size)
            .outerjoin(record_objects, sa.and_(record_objects.c.record_id == records.c.id,
                                               record_objects.c.version == records.c.current_version))
            .where(records.c.session_id == row.session_id).order_by(records.c.created_at, records.c.id)))
        until = {g.record_id: aware(g.expires_at) for g in await conn.execute(
            sa.select(dispute_grants.c.record_id, sa.func.max(dispute_grants.c.expires_at).label("expires_at"))
            .where(dispute_grants.c.dispute_id == dispute_id, _live_grant(actor.sub, now))
            .group_by(dispute_grants.c.record_id))} if row.state != "closed" else {}
    return [s.SessionRecord(id=r.id, kind=r.kind, media_type=r.media_type, state=r.state, size=r.plaintext_size,
                            legal_hold=r.legal_hold, readable_until=until.get(r.id)) for r in rows]


# -- access -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authorised:
    dispute: Row
    record_id: str
    ref: ObjectRef
    media_type: str
    break_glass: bool
    members: list[str]


async def authorise_access(ctx: Ctx, actor: Identity, dispute_id: str, record_id: str) -> Authorised:
    """403 unless a live grant names this admin and this record under this (not closed) dispute."""
    now = ctx.now()
    async with ctx.rec.engine.connect() as conn:
        d = await _load(conn, dispute_id)
        if d.state == "closed":
            raise no_access()
        grants = list(await conn.execute(sa.select(dispute_grants.c.break_glass).where(
            dispute_grants.c.dispute_id == dispute_id, dispute_grants.c.record_id == record_id,
            _live_grant(actor.sub, now))))
        if not grants:
            raise no_access()
        rec_row = (await conn.execute(sa.select(records).where(records.c.id == record_id))).first()
        if rec_row is None:
            raise no_access()
        if rec_row.state != "active":
            raise Gone("This record has expired or was erased.", slug="record-expired")
        if rec_row.session_id != d.session_id:
            raise no_access()
        ref = await object_ref(conn, record_id, rec_row.current_version, rec_row.kind)
        members = await _members(conn, d.pairing_id)
    return Authorised(d, record_id, ref, rec_row.media_type, any(g.break_glass for g in grants), members)


async def log_access(ctx: Ctx, actor: Identity, auth: Authorised, start: int, end: int) -> None:
    """Ledger first (fail closed: LedgerUnavailable → 503, nothing served), then the access row and the
    `record.accessed` notice to both members, committed before any byte is decrypted."""
    now = ctx.now()
    d, rid = auth.dispute, auth.record_id
    span = f"{start}-{end}" if end >= start else "empty"
    event_id, seq = await _ledger(ctx, actor=actor.sub, action="dispute.record.read",
                             target=f"dispute:{d.id}/record:{rid}#bytes={span}", reason=None, at=now)
    try:
        async with ctx.rec.engine.begin() as conn:
            await conn.execute(sa.insert(dispute_accesses).values(
                id=secrets.token_hex(16), dispute_id=d.id, record_id=rid, admin_id=actor.sub, range_start=start,
                range_end=end, at=now, ledger_event_id=event_id, ledger_seq=seq,
                break_glass=auth.break_glass))
            if ctx.rec.outbox is not None:
                await ctx.rec.outbox.add(conn, RecordAccessed(
                    record_id=rid, dispute_id=d.id,
                    accessor_id=actor.sub if ctx.rec.settings.dispute_notify_accessor_id else "",
                    accessor_role="admin", member_ids=auth.members, break_glass=auth.break_glass), subject=rid)
    except Exception as exc:  # noqa: BLE001 - the pair could not be told: serve nothing
        log.error("disputes.access_record_failed", dispute_id=d.id, record_id=rid, exc_type=type(exc).__name__)
        raise ServiceUnavailable("The access could not be recorded, so it was not performed.",
                                 slug="access-unrecorded") from None
    log.info("disputes.record_read", dispute_id=d.id, record_id=rid, start=start, end=end,
             break_glass=auth.break_glass)


# -- hook for record creation ------------------------------------------------------------------------


async def hold_if_disputed(conn: AsyncConnection, session_id: str | None) -> int:
    """Called inside the transaction that creates a record: a record of a session under an open dispute
    is held from its first moment (the dispute's own transitions re-apply holds too)."""
    if not session_id:
        return 0
    disputed = sa.exists().where(disputes.c.session_id == session_id, disputes.c.state.in_(OPEN_STATES))
    res = await conn.execute(sa.update(records).where(records.c.session_id == session_id, records.c.state == "active",
                                                      records.c.legal_hold.is_(False), disputed)
                             .values(legal_hold=True))
    return int(res.rowcount or 0)
