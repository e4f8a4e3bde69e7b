"""Dispute access: an admin reads a record's content under a live grant. Each read is written to the
audit ledger first (fail closed), then recorded with its `record.accessed` notice to both members,
committed before any byte is decrypted."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.adapters.vault import ObjectRef, Vault
from services.records.audit.service import Ledger
from services.records.config import Settings
from services.records.disputes.common import Row, ledgered, live_grant, load, members, no_access
from services.records.disputes.tables import dispute_accesses, dispute_grants
from services.records.lifecycle.access import object_ref
from services.records.lifecycle.tables import records
from services.records.playback.response import ranged_response
from shared.clock import Clock, utcnow
from shared.events.types import RecordAccessed
from shared.http import Gone, ServiceUnavailable
from shared.identity import Identity
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger("tandem.records.disputes")


@dataclass(frozen=True)
class Authorised:
    dispute: Row
    record_id: str
    ref: ObjectRef
    media_type: str
    break_glass: bool
    members: list[str]


@dataclass(frozen=True, kw_only=True)
class DisputeAccess:
    engine: AsyncEngine
    vault: Vault
    ledger: Ledger
    outbox: Outbox
    settings: Settings
    clock: Clock = utcnow

    async def content(self, actor: Identity, dispute_id: str, record_id: str,
                      range_header: str | None) -> Response[Any]:
        """403 outside the window, for records not granted, for admins not named; 503 (no bytes) when
        the ledger cannot be written."""
        auth = await self.authorise(actor, dispute_id, record_id)
        window = self.settings.playback_window_bytes

        async def logged(start: int, end: int) -> None:
            await self.log_access(actor, auth, start, end)  # raises (503) before any plaintext exists

        return await ranged_response(range_header, auth.ref.plaintext_size, auth.media_type,
                                     lambda start, end: self.vault.stream_range(auth.ref, start, end, window),
                                     noun="record", before=logged)

    async def authorise(self, actor: Identity, dispute_id: str, record_id: str) -> Authorised:
        """403 unless a live grant names this admin and this record under this (not closed) dispute."""
        now = self.clock()
        async with self.engine.connect() as conn:
            d = await load(conn, dispute_id)
            if d.state == "closed":
                raise no_access()
            grants = list(await conn.execute(sa.select(dispute_grants.c.break_glass).where(
                dispute_grants.c.dispute_id == dispute_id, dispute_grants.c.record_id == record_id,
                live_grant(actor.sub, now))))
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
            pair = await members(conn, d.pairing_id)
        return Authorised(d, record_id, ref, rec_row.media_type, any(g.break_glass for g in grants), pair)

    async def log_access(self, actor: Identity, auth: Authorised, start: int, end: int) -> None:
        """Ledger first (fail closed: LedgerUnavailable → 503, nothing served), then the access row and the
        `record.accessed` notice to both members, committed before any byte is decrypted."""
        now = self.clock()
        d, rid = auth.dispute, auth.record_id
        span = f"{start}-{end}" if end >= start else "empty"
        event_id, seq = await ledgered(self.ledger, actor=actor.sub, action="dispute.record.read",
                                       target=f"dispute:{d.id}/record:{rid}#bytes={span}", reason=None, at=now)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(sa.insert(dispute_accesses).values(
                    id=secrets.token_hex(16), dispute_id=d.id, record_id=rid, admin_id=actor.sub, range_start=start,
                    range_end=end, at=now, ledger_event_id=event_id, ledger_seq=seq,
                    break_glass=auth.break_glass))
                await self.outbox.add(conn, RecordAccessed(
                    record_id=rid, dispute_id=d.id,
                    accessor_id=actor.sub if self.settings.dispute_notify_accessor_id else "",
                    accessor_role="admin", member_ids=auth.members, break_glass=auth.break_glass), subject=rid)
        except Exception as exc:  # noqa: BLE001 - the pair could not be told: serve nothing
            log.error("disputes.access_record_failed", dispute_id=d.id, record_id=rid, exc_type=type(exc).__name__)
            raise ServiceUnavailable("The access could not be recorded, so it was not performed.",
                                     slug="access-unrecorded") from None
        log.info("disputes.record_read", dispute_id=d.id, record_id=rid, start=start, end=end,
                 break_glass=auth.break_glass)
