"""Retention: the sweep that erases what the policy says is due, and erasure requests (right to erasure).

The erasure itself (keys first, then objects, then a signed tombstone) is the lifecycle's; here is
what is due and for whom. A legal hold keeps a record whatever is asked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.config import Settings
from services.records.lifecycle.service import Lifecycle
from services.records.lifecycle.tables import records
from services.records.pairings.service import pairings_of
from shared.logging import get_logger

log = get_logger("tandem.records.retention")


@dataclass
class SweepResult:
    expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class ErasureResult:
    erased: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Retention:
    engine: AsyncEngine
    lifecycle: Lifecycle
    settings: Settings
    instance: str  # who holds the leases this sweeper takes

    def receipt_jwks(self) -> dict[str, Any]:
        """The public key (JWKS) verifying the signatures of erasure receipts."""
        return self.lifecycle.receipt_jwks()

    async def sweep_once(self) -> SweepResult:
        """Expire every record past retain_until that no legal hold protects."""
        result = SweepResult()
        while True:
            batch = await self.lifecycle.claim_due(self.instance, self.settings.sweep_batch,
                                                   timedelta(seconds=self.settings.sweep_lease_s))
            if not batch:
                return result
            for rid in batch:
                try:
                    outcome = await self.lifecycle.erase(rid, reason="retention", actor="system:retention",
                                                         require_due=True)
                except Exception as exc:  # noqa: BLE001 - one failing record must not stop the sweep; lease expires
                    log.warning("records.shred_failed", record_id=rid, exc_type=type(exc).__name__)
                    result.failed.append(rid)
                    continue
                if outcome == "expired":
                    result.expired.append(rid)
                else:
                    await self.lifecycle.release_claim(rid)
            if result.failed:
                return result  # failed ones stay leased until their lease ends; don't spin on them

    async def erase_for_user(self, user_id: str, *, request_id: str) -> ErasureResult:
        """Erasure request of a user: the notes they wrote and the recordings they appear in (recordings of
        their pairings). Notes the other member wrote are that member's records and stay. Held records are
        kept and reported."""
        result = ErasureResult()
        async with self.engine.connect() as conn:
            pairing_ids = await pairings_of(conn, user_id)
            rows = await conn.execute(sa.select(records.c.id).where(
                records.c.state != "expired",
                sa.or_(sa.and_(records.c.kind == "note", records.c.author_id == user_id),
                       sa.and_(records.c.kind == "recording", records.c.pairing_id.in_(pairing_ids)))))
            ids = [r[0] for r in rows]
        for rid in ids:
            outcome = await self.lifecycle.erase(rid, reason="erasure", actor=f"erasure-request:{request_id}")
            (result.held if outcome == "held" else result.erased).append(rid)
        return result
