"""Case handling by safeguarding officers: reading, workflow, assignment, notes, messages,
identity reveal (four eyes) and legal hold.

A report about an officer is invisible to that officer: it answers exactly like a report that does
not exist. Every read and change is audited; changes are audited inside their transaction, so an
audit that cannot be written undoes the change (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reports.adapters.vault import Vault, new_id
from services.reports.casefile.schemas import NoteOut
from services.reports.casefile.sealed import KIND_ATTACHMENT, KIND_REVEAL, AttachmentMeta, Body, RevealReasons
from services.reports.casefile.service import NOT_FOUND, CaseFile, check_text, hidden_from, log, target
from services.reports.casefile.tables import attachments, reports
from services.reports.cases.schemas import CaseDetail, CaseSummary, EntryCreated, Reporter, RevealRequestOut
from services.reports.cases.tables import reveal_requests
from services.reports.config import Settings
from services.reports.officers.service import is_active_officer
from shared.clock import Clock
from shared.http import Conflict, Forbidden, NotFound
from shared.identity import Identity
from shared.service import Runtime

HOLD_NOTE = {True: "Legal hold set", False: "Legal hold released"}

# Illegal transitions answer 409. A resolved case may be reopened; closed is final (and starts retention).
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"investigating", "closed"}),
    "investigating": frozenset({"resolved", "closed"}),
    "resolved": frozenset({"closed", "investigating"}),
    "closed": frozenset(),
}


def summary(row: Any, now: datetime) -> CaseSummary:
    overdue = row.state == "received" and (row.overdue_at is not None or row.ack_due_at <= now)
    return CaseSummary(id=row.id, category=row.category, state=row.state, urgent=row.urgent, anonymous=row.anonymous,
                       assignee_id=row.assignee_id, created_at=row.created_at, ack_due_at=row.ack_due_at,
                       acknowledged_at=row.acknowledged_at, overdue=overdue, closed_at=row.closed_at,
                       legal_hold=row.legal_hold)


@dataclass(frozen=True)
class Cases:
    """The safeguarding routes' work, on the report rows (`files`) and the sealed objects (`vault`)."""

    runtime: Runtime
    settings: Settings
    files: CaseFile
    vault: Vault
    clock: Clock

    async def _case(self, conn: AsyncConnection, identity: Identity, report_id: str, action: str, *,
                    for_update: bool = False) -> tuple[Any, Body]:
        row = await self.files.load(conn, report_id, for_update=for_update)
        if row is None or row.subject_tag == self.files.subject_tag(identity.sub):
            # A report about the caller answers exactly like one that does not exist, in the ledger too:
            # this entry is not hidden from the caller, as it could not be for a missing report.
            await self.runtime.auditor(identity.sub, action, target(report_id), "denied")
            raise NotFound(NOT_FOUND)
        return row, self.files.open_body(row)

    async def _audit(self, identity: Identity, action: str, report_id: str, body: Body, outcome: str = "success",
                     **kw: Any) -> None:
        await self.runtime.auditor(identity.sub, action, target(report_id), outcome, hidden_from=hidden_from(body),
                                   **kw)

    async def _summary(self, conn: AsyncConnection, report_id: str, now: datetime) -> CaseSummary:
        return summary((await conn.execute(sa.select(reports).where(reports.c.id == report_id))).one(), now)

    async def list_cases(self, identity: Identity, state: str | None) -> list[CaseSummary]:
        mine = self.files.subject_tag(identity.sub)
        query = sa.select(reports).where(
            reports.c.shredded_at.is_(None),
            sa.or_(reports.c.subject_tag.is_(None), reports.c.subject_tag != mine),
        ).order_by(reports.c.urgent.desc(), reports.c.created_at)
        if state:
            query = query.where(reports.c.state == state)
        now = self.clock()
        async with self.runtime.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        await self.runtime.auditor(identity.sub, "report.list", "reports", "success")
        return [summary(r, now) for r in rows]

    async def get(self, identity: Identity, report_id: str) -> CaseDetail:
        files = self.files
        async with self.runtime.engine.connect() as conn:
            row, body = await self._case(conn, identity, report_id, "report.read")
            notes = [NoteOut(id=r.id, author_id=r.author_id, text=text, created_at=r.created_at)
                     for r, text in await files.read_entries(conn, report_id, "note")]
            msgs = await files.messages(conn, report_id, for_handlers=True)
            infos = await files.attachment_infos(conn, report_id)
            reveals = (await conn.execute(sa.select(reveal_requests).where(reveal_requests.c.report_id == report_id)
                                          .order_by(reveal_requests.c.created_at))).all()
        revealed = row.identity_revealed_at is not None
        detail = CaseDetail(
            case=summary(row, self.clock()), text=body.text, session_id=body.session_id, person_id=body.person_id,
            reporter=Reporter(anonymous=row.anonymous, revealed=revealed,
                              reporter_id=body.reporter_id if revealed and not row.anonymous else None),
            attachments=infos, notes=notes, messages=msgs,
            reveal_requests=[RevealRequestOut(id=r.id, requested_by=r.requested_by, state=r.state,
                                              created_at=r.created_at, approved_by=r.approved_by,
                                              approved_at=r.approved_at) for r in reveals])
        await self._audit(identity, "report.read", report_id, body)
        return detail

    async def transition(self, identity: Identity, report_id: str, to: str) -> CaseSummary:
        now = self.clock()
        async with self.runtime.engine.begin() as conn:
            row, body = await self._case(conn, identity, report_id, "report.transition", for_update=True)
            if to not in TRANSITIONS[row.state]:
                await self._audit(identity, f"report.transition.{to}", report_id, body, "denied")
                raise Conflict(f"A {row.state} report cannot become {to}.")
            values: dict[str, Any] = {"state": to, "updated_at": now}
            if to == "acknowledged":
                values["acknowledged_at"] = now
            if to == "closed":
                values["closed_at"] = now
            # Compare-and-set on the state: two officers moving the same case at once cannot both win.
            result = await conn.execute(sa.update(reports).where(reports.c.id == report_id,
                                                                 reports.c.state == row.state).values(**values))
            if result.rowcount != 1:
                raise Conflict("The report changed meanwhile; reload it.")
            await self._audit(identity, f"report.transition.{to}", report_id, body)
            updated = await self._summary(conn, report_id, now)
        log.info("reports.transition", report_id=report_id, state_from=row.state, state_to=to)
        return updated

    async def assign(self, identity: Identity, report_id: str, assignee_id: str | None) -> CaseSummary:
        now = self.clock()
        async with self.runtime.engine.begin() as conn:
            row, body = await self._case(conn, identity, report_id, "report.assign", for_update=True)
            if assignee_id is not None and row.subject_tag == self.files.subject_tag(assignee_id):
                raise Conflict("A report cannot be assigned to the person it is about.")
            if row.state == "closed":
                raise Conflict("A closed report cannot be reassigned.")
            # The caller's own role is proven by the assertion; anyone else must be a known, active officer.
            if assignee_id is not None and assignee_id != identity.sub \
                    and not await is_active_officer(conn, assignee_id):
                raise Conflict("Cases can only be assigned to an active safeguarding officer.")
            await conn.execute(sa.update(reports).where(reports.c.id == report_id)
                               .values(assignee_id=assignee_id, updated_at=now))
            await self._audit(identity, "report.assign", report_id, body)
            return await self._summary(conn, report_id, now)

    async def add_entry(self, identity: Identity, report_id: str, kind: str, text: str) -> EntryCreated:
        check_text(text, self.settings.max_message_chars, "text")
        now = self.clock()
        async with self.runtime.engine.begin() as conn:
            row, body = await self._case(conn, identity, report_id, f"report.{kind}")
            if row.state == "closed":
                raise Conflict("The report is closed.")
            entry_id = await self.files.add_entry(
                conn, report_id=report_id, kind="note" if kind == "note" else "message", author_role="handler",
                author_id=identity.sub, text=text, now=now)
            await self._audit(identity, f"report.{kind}", report_id, body)
        return EntryCreated(id=entry_id, created_at=now)

    async def read_attachment(self, identity: Identity, report_id: str,
                              attachment_id: str) -> tuple[bytes, AttachmentMeta]:
        async with self.runtime.engine.connect() as conn:
            _, body = await self._case(conn, identity, report_id, "report.attachment_read")
            row = (await conn.execute(sa.select(attachments).where(
                attachments.c.id == attachment_id, attachments.c.report_id == report_id))).first()
        if row is None or row.object_key is None:
            raise NotFound("No such attachment.")
        meta = self.files.open_attachment_meta(row)
        sealed = await self.vault.get_object(row.object_key)
        content = self.vault.open_bytes(row.id, KIND_ATTACHMENT, row.kek_version, row.wrapped_dek, sealed)
        await self.runtime.auditor(identity.sub, "report.attachment_read",
                                   f"{target(report_id)}/attachment:{attachment_id}", "success",
                                   hidden_from=hidden_from(body))
        return content, meta

    async def request_reveal(self, identity: Identity, report_id: str, reason: str) -> RevealRequestOut:
        now = self.clock()
        async with self.runtime.engine.begin() as conn:
            row, body = await self._case(conn, identity, report_id, "report.reveal_requested", for_update=True)
            if row.anonymous:
                raise Conflict("An anonymous report has no identity to reveal.")
            if row.identity_revealed_at is not None:
                raise Conflict("The reporter's identity is already revealed.")
            pending = (await conn.execute(sa.select(reveal_requests.c.id).where(
                reveal_requests.c.report_id == report_id, reveal_requests.c.state == "pending"))).first()
            if pending is not None:
                raise Conflict("A reveal request is already waiting for a second officer.")
            request_id = new_id()
            sealed = self.vault.seal_json(request_id, KIND_REVEAL, RevealReasons(requested=reason))
            await conn.execute(sa.insert(reveal_requests).values(
                id=request_id, report_id=report_id, requested_by=identity.sub, approved_by=None, state="pending",
                kek_version=sealed.kek_version, wrapped_dek=sealed.wrapped_dek, sealed_reason=sealed.ciphertext,
                created_at=now))
            # The reason is sealed above; the entry points to the request, so no free text crosses Redis.
            await self._audit(identity, "report.reveal_requested", report_id, body,
                              reason=f"reveal-request:{request_id}")
        return RevealRequestOut(id=request_id, requested_by=identity.sub, state="pending", created_at=now)

    async def approve_reveal(self, identity: Identity, report_id: str, request_id: str,
                             reason: str) -> RevealRequestOut:
        now = self.clock()
        async with self.runtime.engine.begin() as conn:
            _, body = await self._case(conn, identity, report_id, "report.reveal_approved", for_update=True)
            req = (await conn.execute(sa.select(reveal_requests).where(
                reveal_requests.c.id == request_id, reveal_requests.c.report_id == report_id))).first()
            if req is None:
                raise NotFound("No such reveal request.")
            if req.state != "pending":
                raise Conflict("This reveal request was already decided.")
            if req.requested_by == identity.sub:
                await self._audit(identity, "report.reveal_approved", report_id, body, "denied",
                                  reason="requester cannot approve their own reveal request")
                raise Forbidden("A second safeguarding officer must approve revealing the reporter's identity.")
            reasons = self.vault.open_json(req.id, KIND_REVEAL, req.kek_version, req.wrapped_dek, req.sealed_reason,
                                           RevealReasons)
            assert isinstance(reasons, RevealReasons)  # noqa: S101
            sealed = self.vault.seal_json(req.id, KIND_REVEAL,
                                          RevealReasons(requested=reasons.requested, approved=reason))
            await conn.execute(sa.update(reveal_requests).where(reveal_requests.c.id == request_id).values(
                state="approved", approved_by=identity.sub, approved_at=now, kek_version=sealed.kek_version,
                wrapped_dek=sealed.wrapped_dek, sealed_reason=sealed.ciphertext))
            await conn.execute(sa.update(reports).where(reports.c.id == report_id)
                               .values(identity_revealed_at=now, updated_at=now))
            await self._audit(identity, "report.reveal_approved", report_id, body,
                              reason=f"reveal-request:{request_id}")
        log.info("reports.identity_revealed", report_id=report_id, request_id=request_id)
        return RevealRequestOut(id=req.id, requested_by=req.requested_by, state="approved", created_at=req.created_at,
                                approved_by=identity.sub, approved_at=now)

    async def set_hold(self, identity: Identity, report_id: str, hold: bool, reason: str) -> CaseSummary:
        now = self.clock()
        async with self.runtime.engine.begin() as conn:
            _, body = await self._case(conn, identity, report_id, "report.legal_hold", for_update=True)
            # The reason exists nowhere else: kept sealed as the officer's case note (read in the case
            # view); the audit entry points to that note and carries no text.
            note_id = await self.files.add_entry(conn, report_id=report_id, kind="note", author_role="handler",
                                                 author_id=identity.sub, text=f"{HOLD_NOTE[hold]}: {reason}", now=now)
            await conn.execute(sa.update(reports).where(reports.c.id == report_id)
                               .values(legal_hold=hold, updated_at=now))
            await self._audit(identity, "report.legal_hold.set" if hold else "report.legal_hold.released",
                              report_id, body, reason=f"note:{note_id}")
            return await self._summary(conn, report_id, now)
