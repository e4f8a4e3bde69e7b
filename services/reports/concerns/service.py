"""Filing concerns and the reporter's follow-up, by account (identified) or by receipt (anonymous).

Anonymous filings keep no account id, IP or user agent anywhere: not in rows, events, audit
entries, rate-limit keys or log lines (the caller's id is dropped from the log context).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reports.adapters.ratelimit import RateLimiter
from services.reports.adapters.receipts import ReceiptBook, new_receipt, parse_receipt
from services.reports.adapters.vault import Vault, new_id
from services.reports.casefile.sealed import KIND_ATTACHMENT, KIND_ATTACHMENT_META, KIND_BODY, AttachmentMeta, Body
from services.reports.casefile.service import NOT_FOUND, CaseFile, check_text, hidden_from, log, subject_of, target
from services.reports.casefile.tables import attachments, reports
from services.reports.concerns.schemas import ConcernIn, Filed, MessagePosted, OwnReport, OwnReportSummary
from services.reports.config import Settings
from services.reports.officers.service import withheld_from
from shared.audit import reporter_pseudonym
from shared.clock import Clock
from shared.events.types import ReportFiled, ReportUrgent
from shared.http import Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unprocessable
from shared.identity import Identity
from shared.service import Runtime

ANONYMOUS_ACTOR = "anonymous"
RECEIPT_ACTOR = "receipt-holder"
RECEIPT_NOT_FOUND = "No report matches this receipt."


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` plus `days` working days (Mon-Fri), keeping the time of day. A concern filed on a
    weekend starts counting on Monday. Public holidays are not known here (a deliberate simplification)."""
    due = start
    while due.weekday() >= 5:  # filed on Saturday or Sunday: the clock starts Monday 00:00
        due = (due + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        due += timedelta(days=1)
        if due.weekday() < 5:
            remaining -= 1
    return due


def forget_actor() -> None:
    """Drop the caller's account id from this request's log context (every reporter-side request)."""
    structlog.contextvars.unbind_contextvars("actor")


@dataclass(frozen=True)
class Concerns:
    """The reporter's routes' work: filing, and following up by account or by receipt."""

    runtime: Runtime
    settings: Settings
    files: CaseFile
    vault: Vault
    receipts: ReceiptBook
    limiter: RateLimiter
    clock: Clock

    def is_public(self, identity: Identity) -> bool:
        """The gateway's unauthenticated public form: the configured subject with no roles."""
        return identity.sub == self.settings.public_subject and not identity.roles

    def _pseudonym(self, sub: str, where: str) -> str:
        return reporter_pseudonym(self.vault.tag, sub, where)

    def _rate_bucket(self, identity: Identity, client_hash: str | None) -> str:
        if client_hash:
            return f"ip:{client_hash}"
        if self.is_public(identity):
            return "public:unknown-client"  # the gateway did not say: all such callers share one bucket
        return f"sub:{identity.sub}"

    def _check_filing(self, data: ConcernIn) -> None:
        settings = self.settings
        check_text(data.text, settings.max_text_chars, "text")
        if len(data.attachments) > settings.max_attachments:
            raise PayloadTooLarge(f"At most {settings.max_attachments} attachments.")
        for item in data.attachments:
            if len(item.content) > settings.max_attachment_bytes:
                raise PayloadTooLarge(f"Each attachment must be at most {settings.max_attachment_bytes} bytes.")

    async def file(self, identity: Identity, data: ConcernIn, client_hash: str | None) -> Filed:
        settings, runtime, vault = self.settings, self.runtime, self.vault
        public = self.is_public(identity)
        if identity.is_service:
            raise Forbidden("Services do not file concerns.")
        # No filing's log lines name the account: for an identified concern that would link the reporter to
        # the report in the logs, which only the two-officer reveal may do.
        forget_actor()
        anonymous = data.anonymous or public
        if data.anonymous and not public:
            # It came with the account's credentials, so the gateway saw the account (its session's last-seen
            # time, its rate counters): anonymous filings come without any, so no layer can link them. Refused
            # before anything is stored; the refusal's log line carries no actor either.
            raise Unprocessable("Send an anonymous concern without signing in: the request must carry no "
                                "credentials.", slug="anonymous-with-credentials")
        if not await self.limiter.hit("file", self._rate_bucket(identity, client_hash), settings.filings_per_hour):
            raise TooManyRequests("Too many concerns filed from here recently. Please try again later.")
        self._check_filing(data)

        now = self.clock()
        report_id = new_id()
        sealed = vault.seal_json(report_id, KIND_BODY, Body(
            text=data.text, session_id=data.session_id, person_id=data.person_id,
            reporter_id=None if anonymous else identity.sub))
        attachment_rows: list[dict[str, Any]] = []
        uploaded: list[str] = []
        try:
            for item in data.attachments:
                attachment_id, object_key = new_id(), new_id()
                meta = msgspec.json.encode(AttachmentMeta(filename=item.filename, media_type=item.media_type))
                version, wrapped, parts = vault.seal_parts(
                    attachment_id, {KIND_ATTACHMENT: item.content, KIND_ATTACHMENT_META: meta})
                await vault.put_object(object_key, parts[KIND_ATTACHMENT])
                uploaded.append(object_key)
                attachment_rows.append({"id": attachment_id, "report_id": report_id, "object_key": object_key,
                                        "size": len(item.content), "kek_version": version, "wrapped_dek": wrapped,
                                        "sealed_meta": parts[KIND_ATTACHMENT_META], "created_at": now})
            receipt = new_receipt() if anonymous else None
            receipt_hash = await self.receipts.hash(receipt) if receipt else None
            assert runtime.outbox is not None  # noqa: S101 - create_app always configures the outbox
            async with runtime.engine.begin() as conn:
                await conn.execute(sa.insert(reports).values(
                    id=report_id, category=data.category, urgent=data.urgent, anonymous=anonymous,
                    reporter_tag=None if anonymous else self.files.reporter_tag(identity.sub),
                    subject_tag=self.files.subject_tag(data.person_id) if data.person_id else None,
                    lookup_id=receipt.lookup_id if receipt else None, receipt_hash=receipt_hash,
                    state="received", assignee_id=None, kek_version=sealed.kek_version,
                    wrapped_dek=sealed.wrapped_dek, sealed_body=sealed.ciphertext, created_at=now,
                    ack_due_at=add_working_days(now, settings.ack_working_days), legal_hold=False, updated_at=now))
                if attachment_rows:
                    await conn.execute(sa.insert(attachments), attachment_rows)
                withheld = await withheld_from(conn, data.person_id)
                await runtime.outbox.add(conn, ReportFiled(report_id=report_id, category=data.category,
                                                           urgent=data.urgent, withheld_from=withheld),
                                         subject=report_id)
                if data.urgent:
                    await runtime.outbox.add(conn, ReportUrgent(report_id=report_id, category=data.category,
                                                                withheld_from=withheld), subject=report_id)
        except BaseException:
            # Without their row the uploaded objects are unreadable anyway (the DEK was never stored);
            # remove them so nothing is left behind.
            for key in uploaded:
                with contextlib.suppress(Exception):
                    await vault.delete_object(key)
            raise
        where = target(report_id)
        await runtime.auditor(ANONYMOUS_ACTOR if anonymous else self._pseudonym(identity.sub, where),
                              "report.filed", where, "success", hidden_from=subject_of(data.person_id))
        log.info("reports.filed", report_id=report_id, category=data.category, urgent=data.urgent,
                 anonymous=anonymous, attachments=len(attachment_rows))
        due = add_working_days(now, settings.ack_working_days)
        if receipt:
            return Filed(state="received", anonymous=True, ack_due_at=due, receipt=str(receipt))
        return Filed(state="received", anonymous=False, ack_due_at=due, id=report_id)

    def _reporter(self, identity: Identity) -> str:
        forget_actor()  # a reporter's reads and messages are logged by report id only (see `file`)
        if self.is_public(identity) or identity.is_service:
            raise Forbidden("Sign in to see your reports, or use your receipt.")
        return identity.sub

    async def own_reports(self, identity: Identity) -> list[OwnReportSummary]:
        sub = self._reporter(identity)
        async with self.runtime.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(reports).where(reports.c.reporter_tag == self.files.reporter_tag(sub),
                                         reports.c.anonymous.is_(False), reports.c.shredded_at.is_(None))
                .order_by(reports.c.created_at.desc()))).all()
        await self.runtime.auditor(self._pseudonym(sub, "reports:own"), "report.list_own", "reports:own", "success")
        return [OwnReportSummary(id=r.id, category=r.category, state=r.state, urgent=r.urgent,
                                 created_at=r.created_at) for r in rows]

    async def _own_row(self, conn: AsyncConnection, sub: str, report_id: str) -> Any:
        row = await self.files.load(conn, report_id)
        if row is None or row.anonymous or row.reporter_tag != self.files.reporter_tag(sub):
            # Someone else's report and no report at all look the same.
            where = target(report_id)
            await self.runtime.auditor(self._pseudonym(sub, where), "report.read_own", where, "denied")
            raise NotFound(NOT_FOUND)
        return row

    async def _reporter_view(self, conn: AsyncConnection, row: Any, *, with_id: bool) -> OwnReport:
        body = self.files.open_body(row)
        return OwnReport(
            id=row.id if with_id else None, category=row.category, state=row.state, urgent=row.urgent,
            created_at=row.created_at, acknowledged_at=row.acknowledged_at, text=body.text,
            session_id=body.session_id, person_id=body.person_id,
            attachments=await self.files.attachment_infos(conn, row.id),
            messages=await self.files.messages(conn, row.id, for_handlers=False))

    async def own_report(self, identity: Identity, report_id: str) -> OwnReport:
        sub = self._reporter(identity)
        async with self.runtime.engine.connect() as conn:
            row = await self._own_row(conn, sub, report_id)
            view = await self._reporter_view(conn, row, with_id=True)
        where = target(report_id)
        await self.runtime.auditor(self._pseudonym(sub, where), "report.read_own", where, "success",
                                   hidden_from=subject_of(view.person_id))
        return view

    async def _by_receipt(self, conn: AsyncConnection, raw: str | None, client_hash: str | None) -> Any:
        """The report a receipt opens, or one NotFound for every failure. Every path runs exactly one
        argon2 verification (against a dummy hash when there is no row), so failures cost the same."""
        forget_actor()
        settings = self.settings
        receipt = parse_receipt(raw)
        allowed = await self.limiter.hit("receipt", f"ip:{client_hash}" if client_hash else "receipt:unknown-client",
                                         settings.receipt_attempts_per_hour)
        if receipt is not None:
            allowed = await self.limiter.hit("receipt-id", receipt.lookup_id,
                                             settings.receipt_attempts_per_id_per_hour) and allowed
        if not allowed:
            raise TooManyRequests("Too many attempts. Please try again later.")
        # A malformed receipt still runs the same query (for an id that cannot exist) and the same verification.
        row = (await conn.execute(sa.select(reports).where(
            reports.c.lookup_id == (receipt.lookup_id if receipt else "-"), reports.c.shredded_at.is_(None)))).first()
        ok = await self.receipts.verify(row.receipt_hash if row is not None else None,
                                        receipt.secret if receipt else "-" * 32)
        if not ok or row is None:
            await self.runtime.auditor(ANONYMOUS_ACTOR, "report.receipt_rejected", "report:unknown", "denied")
            raise NotFound(RECEIPT_NOT_FOUND)
        return row

    async def receipt_report(self, raw: str | None, client_hash: str | None) -> OwnReport:
        async with self.runtime.engine.connect() as conn:
            row = await self._by_receipt(conn, raw, client_hash)
            view = await self._reporter_view(conn, row, with_id=False)
        await self.runtime.auditor(RECEIPT_ACTOR, "report.read_by_receipt", target(row.id), "success",
                                   hidden_from=subject_of(view.person_id))
        return view

    async def post_own_message(self, identity: Identity, report_id: str, text: str) -> MessagePosted:
        sub = self._reporter(identity)
        return await self._post_message(text, lambda conn: self._own_row(conn, sub, report_id),
                                        lambda row: self._pseudonym(sub, target(report_id)))

    async def post_receipt_message(self, raw: str | None, client_hash: str | None, text: str) -> MessagePosted:
        return await self._post_message(text, lambda conn: self._by_receipt(conn, raw, client_hash),
                                        lambda row: RECEIPT_ACTOR)

    async def _post_message(self, text: str, find: Callable[[AsyncConnection], Awaitable[Any]],
                            actor: Callable[[Any], str]) -> MessagePosted:
        """A reporter's message on the report `find(conn)` opens, audited as `actor(row)`."""
        check_text(text, self.settings.max_message_chars, "message")
        now = self.clock()
        async with self.runtime.engine.begin() as conn:
            row = await find(conn)
            entry_id = await self.files.add_entry(conn, report_id=row.id, kind="message", author_role="reporter",
                                                  author_id=None, text=text, now=now)
        await self.runtime.auditor(actor(row), "report.message_from_reporter", target(row.id), "success",
                                   hidden_from=hidden_from(self.files.open_body(row)))
        return MessagePosted(id=entry_id, created_at=now)
