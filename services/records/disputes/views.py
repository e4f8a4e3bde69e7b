"""Reading disputes: the admins' list and full view (reasons opened from the ledger, the read itself
ledgered first), the members' view of disputes about their pairings (no reasons), and the records of a
disputed session (metadata only)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.audit.service import Ledger
from services.records.disputes import schemas as s
from services.records.disputes.common import ledgered, live_grant, load, summary
from services.records.disputes.tables import dispute_accesses, dispute_events, dispute_grants, disputes
from services.records.lifecycle.tables import record_objects, records
from services.records.pairings.service import pairings_of
from shared.clock import Clock, aware, utcnow
from shared.identity import Identity


@dataclass(frozen=True, kw_only=True)
class DisputeViews:
    engine: AsyncEngine
    ledger: Ledger
    clock: Clock = utcnow

    async def list_disputes(self, state: str | None, unreviewed: bool, limit: int) -> list[s.DisputeSummary]:
        query = sa.select(disputes).order_by(disputes.c.opened_at.desc(), disputes.c.id).limit(limit)
        if unreviewed:
            query = query.where(disputes.c.state == "break_glass")
        if state is not None:
            query = query.where(disputes.c.state == state)
        async with self.engine.connect() as conn:
            return [summary(r) for r in await conn.execute(query)]

    async def get_dispute(self, actor: Identity, dispute_id: str) -> s.Dispute:
        """The full admin view. Reasons are decrypted from the ledger, so the read itself is ledgered first."""
        async with self.engine.connect() as conn:
            row = await load(conn, dispute_id)
        await ledgered(self.ledger, actor=actor.sub, action="dispute.read", target=f"dispute:{dispute_id}",
                       reason=None, at=self.clock())
        async with self.engine.connect() as conn:
            events = list(await conn.execute(sa.select(dispute_events)
                                             .where(dispute_events.c.dispute_id == dispute_id)
                                             .order_by(dispute_events.c.ledger_seq)))
            grants = list(await conn.execute(sa.select(dispute_grants)
                                             .where(dispute_grants.c.dispute_id == dispute_id)
                                             .order_by(dispute_grants.c.starts_at, dispute_grants.c.id)))
            accesses = list(await conn.execute(sa.select(dispute_accesses)
                                               .where(dispute_accesses.c.dispute_id == dispute_id)
                                               .order_by(dispute_accesses.c.ledger_seq)))
        reasons = await self.ledger.reasons([e.ledger_event_id for e in events])
        pending = None
        if row.requested_by:
            pending = s.PendingRequest(requested_by=row.requested_by, requested_at=aware(row.requested_at),
                                       admin_ids=json.loads(row.request_admin_ids),
                                       record_ids=json.loads(row.request_record_ids),
                                       window_hours=int(row.request_window_hours))
        return s.Dispute(
            **msgspec.structs.asdict(summary(row)), pending_request=pending,
            transitions=[s.Transition(action=e.action, state=e.state, actor_id=e.actor_id, actor_role=e.actor_role,
                                      at=aware(e.at), detail=e.detail, reason=reasons[e.ledger_event_id])
                         for e in events],
            grants=[s.Grant(admin_id=g.admin_id, record_id=g.record_id, starts_at=aware(g.starts_at),
                            expires_at=aware(g.expires_at), granted_by=g.granted_by, break_glass=g.break_glass,
                            revoked_at=aware(g.revoked_at)) for g in grants],
            accesses=[s.Access(record_id=a.record_id, admin_id=a.admin_id, range_start=a.range_start,
                               range_end=a.range_end, at=aware(a.at), break_glass=a.break_glass) for a in accesses])

    async def my_disputes(self, user_id: str) -> list[s.MemberDispute]:
        async with self.engine.connect() as conn:
            pids = await pairings_of(conn, user_id)
            if not pids:
                return []
            rows = list(await conn.execute(sa.select(disputes).where(disputes.c.pairing_id.in_(pids))
                                           .order_by(disputes.c.opened_at.desc(), disputes.c.id)))
            ids = [r.id for r in rows]
            events = list(await conn.execute(sa.select(dispute_events).where(dispute_events.c.dispute_id.in_(ids))
                                             .order_by(dispute_events.c.ledger_seq)))
            accesses = list(await conn.execute(sa.select(dispute_accesses)
                                               .where(dispute_accesses.c.dispute_id.in_(ids))
                                               .order_by(dispute_accesses.c.ledger_seq)))
        return [s.MemberDispute(
            id=r.id, session_id=r.session_id, pairing_id=r.pairing_id, state=r.state,
            opened_by_me=r.opened_by == user_id, opened_by_role=r.opened_by_role, opened_at=aware(r.opened_at),
            updated_at=aware(r.updated_at), outcome=r.outcome,
            transitions=[s.MemberTransition(action=e.action, state=e.state, actor_role=e.actor_role, at=aware(e.at),
                                            detail=e.detail) for e in events if e.dispute_id == r.id],
            accesses=[s.MemberAccess(record_id=a.record_id, at=aware(a.at), accessor_role="admin",
                                     break_glass=a.break_glass) for a in accesses if a.dispute_id == r.id])
            for r in rows]

    async def session_records(self, actor: Identity, dispute_id: str) -> list[s.SessionRecord]:
        """Metadata of the disputed session's records (what an access request can name); no content."""
        now = self.clock()
        async with self.engine.connect() as conn:
            row = await load(conn, dispute_id)
            rows = list(await conn.execute(
                sa.select(records.c.id, records.c.kind, records.c.media_type, records.c.state, records.c.legal_hold,
                          record_objects.c.plaintext_size)
                .outerjoin(record_objects, sa.and_(record_objects.c.record_id == records.c.id,
                                                   record_objects.c.version == records.c.current_version))
                .where(records.c.session_id == row.session_id).order_by(records.c.created_at, records.c.id)))
            until = {g.record_id: aware(g.expires_at) for g in await conn.execute(
                sa.select(dispute_grants.c.record_id, sa.func.max(dispute_grants.c.expires_at).label("expires_at"))
                .where(dispute_grants.c.dispute_id == dispute_id, live_grant(actor.sub, now))
                .group_by(dispute_grants.c.record_id))} if row.state != "closed" else {}
        return [s.SessionRecord(id=r.id, kind=r.kind, media_type=r.media_type, state=r.state, size=r.plaintext_size,
                                legal_hold=r.legal_hold, readable_until=until.get(r.id)) for r in rows]
