"""Sweeps run periodically by every instance (each step is idempotent and claims its rows):

- acknowledgement deadlines: a report still `received` after its due time publishes report.overdue once;
- retention: a closed report older than the retention period and not on legal hold is crypto-shredded.
  Its wrapped keys and sealed columns go first (that alone makes it unreadable), then its objects,
  leaving a content-free tombstone row (id, category, dates).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.reports.adapters.vault import Vault
from services.reports.casefile.service import CaseFile, hidden_from, log, target
from services.reports.casefile.tables import attachments, entries, reports
from services.reports.cases.tables import reveal_requests
from services.reports.config import Settings
from services.reports.officers.service import withheld_from
from shared.clock import Clock
from shared.events.types import ReportOverdue
from shared.http import NotFound
from shared.objectstore import ObjectNotFound
from shared.service import Runtime

SYSTEM_ACTOR = "system:reports-retention"


@dataclass(frozen=True)
class Retention:
    """The sweeps, run by `run` in the background (or one `sweep` at a time)."""

    runtime: Runtime
    settings: Settings
    files: CaseFile
    vault: Vault
    clock: Clock

    async def run(self, interval_s: float) -> None:
        """Sweep every `interval_s` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - a failed sweep is retried next round
                log.warning("reports.sweep_failed", exc_type=type(exc).__name__)

    async def sweep(self) -> None:
        now = self.clock()
        await self.flag_overdue(now)
        await self.expire(now)

    async def flag_overdue(self, now: datetime) -> list[str]:
        """Publish report.overdue (through the outbox) for each newly overdue report; returns their ids."""
        runtime = self.runtime
        assert runtime.outbox is not None  # noqa: S101 - create_app always configures the outbox
        async with runtime.engine.connect() as conn:
            due = (await conn.execute(sa.select(reports.c.id).where(
                reports.c.state == "received", reports.c.overdue_at.is_(None), reports.c.ack_due_at <= now,
                reports.c.shredded_at.is_(None)))).all()
        flagged = []
        for (report_id,) in due:
            async with runtime.engine.begin() as conn:
                claimed = await conn.execute(sa.update(reports).where(
                    reports.c.id == report_id, reports.c.state == "received", reports.c.overdue_at.is_(None))
                    .values(overdue_at=now))
                if claimed.rowcount != 1:
                    continue  # acknowledged meanwhile, or another instance got there first
                row = (await conn.execute(sa.select(reports).where(reports.c.id == report_id))).first()
                subject = self._subject_of(row)
                withheld = await withheld_from(conn, subject[0] if subject else None)
                await runtime.outbox.add(conn, ReportOverdue(report_id=report_id, withheld_from=withheld),
                                         subject=report_id)
            flagged.append(report_id)
            log.info("reports.overdue", report_id=report_id)
        return flagged

    async def shred(self, report_id: str, now: datetime) -> bool:
        """Crypto-shred one closed, unheld report. False if it is not (or no longer) eligible."""
        async with self.runtime.engine.begin() as conn:
            # Read before the key goes: the expiry's audit entry is hidden from the report's subject, as every
            # entry about the report is (services/reports/casefile/service.py).
            row = (await conn.execute(sa.select(reports).where(reports.c.id == report_id))).first()
            hidden = self._subject_of(row)
            done = await conn.execute(sa.update(reports).where(
                reports.c.id == report_id, reports.c.state == "closed", reports.c.legal_hold.is_(False),
                reports.c.shredded_at.is_(None)).values(
                shredded_at=now, updated_at=now, wrapped_dek=None, sealed_body=None, kek_version=None,
                reporter_tag=None, subject_tag=None, lookup_id=None, receipt_hash=None, assignee_id=None))
            if done.rowcount != 1:
                return False
            await conn.execute(sa.delete(entries).where(entries.c.report_id == report_id))
            await conn.execute(sa.delete(reveal_requests).where(reveal_requests.c.report_id == report_id))
            await conn.execute(sa.update(attachments).where(attachments.c.report_id == report_id).values(
                wrapped_dek=None, sealed_meta=None, kek_version=None))
            await self.runtime.auditor(SYSTEM_ACTOR, "report.expired", target(report_id), "success",
                                       hidden_from=hidden)
        await self.delete_objects(report_id)
        log.info("reports.shredded", report_id=report_id)
        return True

    def _subject_of(self, row: Any) -> tuple[str, ...]:
        if row is None or row.sealed_body is None:
            return ()
        try:
            return hidden_from(self.files.open_body(row))
        except NotFound:  # unreadable (logged by open_body): shredding goes on, the entry hides from nobody
            return ()

    async def delete_objects(self, report_id: str) -> None:
        """Delete a shredded report's (already unreadable) objects, then their rows."""
        async with self.runtime.engine.connect() as conn:
            rows = (await conn.execute(sa.select(attachments.c.id, attachments.c.object_key).where(
                attachments.c.report_id == report_id))).all()
        for attachment_id, object_key in rows:
            if object_key:
                with contextlib.suppress(ObjectNotFound):
                    await self.vault.delete_object(object_key)
            async with self.runtime.engine.begin() as conn:
                await conn.execute(sa.delete(attachments).where(attachments.c.id == attachment_id))

    async def expire(self, now: datetime) -> list[str]:
        cutoff = now - timedelta(days=self.settings.retention_days)
        async with self.runtime.engine.connect() as conn:
            candidates = (await conn.execute(sa.select(reports.c.id).where(
                reports.c.state == "closed", reports.c.closed_at <= cutoff, reports.c.legal_hold.is_(False),
                reports.c.shredded_at.is_(None)))).scalars().all()
            # Objects left behind by a sweep interrupted between shredding and deleting.
            leftovers = (await conn.execute(sa.select(attachments.c.report_id).join(
                reports, reports.c.id == attachments.c.report_id).where(reports.c.shredded_at.is_not(None))
                .distinct())).scalars().all()
        shredded = [rid for rid in candidates if await self.shred(rid, now)]
        for rid in leftovers:
            await self.delete_objects(rid)
        return shredded
