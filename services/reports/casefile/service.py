"""Reading and writing one report's rows, for the reporter-facing (concerns), the handler-facing
(cases) and the retention features. Every text passes through the vault; nothing here logs content.

Who must never read a report's audit trail: its subject. A case about an officer is invisible to that
officer (cases/service.py); the audit ledger (records) must not show them its trail either, so every
entry about a report carries the subject's account id in `hidden_from` (shared/audit.py). It is an id
like every other id on the bus; it never goes in a log line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reports.adapters.vault import Vault, new_id
from services.reports.casefile.schemas import AttachmentInfo, MessageOut
from services.reports.casefile.sealed import KIND_ATTACHMENT_META, KIND_BODY, AttachmentMeta, Body, EntryBody
from services.reports.casefile.tables import attachments, entries, reports
from shared.crypto import DecryptionError
from shared.http import NotFound, PayloadTooLarge, Unprocessable
from shared.logging import get_logger

log = get_logger("tandem.reports")

NOT_FOUND = "No such report."


def target(report_id: str) -> str:
    """A report as the audit ledger names it."""
    return f"report:{report_id}"


def hidden_from(body: Body) -> tuple[str, ...]:
    """Whom the audit entries about a report are hidden from: its subject."""
    return subject_of(body.person_id)


def subject_of(person_id: str | None) -> tuple[str, ...]:
    return (person_id,) if person_id else ()


def check_text(text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise PayloadTooLarge(f"The {what} is longer than {limit} characters.")
    if not text.strip():
        raise Unprocessable(f"The {what} is empty.")
    return text


class CaseFile:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def reporter_tag(self, sub: str) -> str:
        return self.vault.tag("reporter", sub)

    def subject_tag(self, person_id: str) -> str:
        return self.vault.tag("subject", person_id)

    async def load(self, conn: AsyncConnection, report_id: str, *, for_update: bool = False) -> Any:
        """A live (not shredded) report row, or None."""
        query = sa.select(reports).where(reports.c.id == report_id, reports.c.shredded_at.is_(None))
        if for_update:
            query = query.with_for_update()
        return (await conn.execute(query)).first()

    def open_body(self, row: Any) -> Body:
        try:
            body = self.vault.open_json(row.id, KIND_BODY, row.kek_version, row.wrapped_dek, row.sealed_body, Body)
        except DecryptionError:
            # Never expected for a live row: say which row, not what failed inside the crypto.
            log.error("reports.body_unreadable", report_id=row.id)
            raise NotFound(NOT_FOUND) from None
        assert isinstance(body, Body)  # noqa: S101 - open_json decodes into the type it is given
        return body

    def open_entry(self, row: Any) -> str:
        body = self.vault.open_json(row.id, f"report.{row.kind}", row.kek_version, row.wrapped_dek, row.sealed_body,
                                    EntryBody)
        assert isinstance(body, EntryBody)  # noqa: S101
        return body.text

    def open_attachment_meta(self, row: Any) -> AttachmentMeta:
        meta = self.vault.open_json(row.id, KIND_ATTACHMENT_META, row.kek_version, row.wrapped_dek, row.sealed_meta,
                                    AttachmentMeta)
        assert isinstance(meta, AttachmentMeta)  # noqa: S101
        return meta

    async def add_entry(self, conn: AsyncConnection, *, report_id: str, kind: Literal["note", "message"],
                        author_role: Literal["handler", "reporter"], author_id: str | None, text: str,
                        now: datetime) -> str:
        entry_id = new_id()
        sealed = self.vault.seal_json(entry_id, f"report.{kind}", EntryBody(text=text))
        await conn.execute(sa.insert(entries).values(
            id=entry_id, report_id=report_id, kind=kind, author_role=author_role, author_id=author_id,
            kek_version=sealed.kek_version, wrapped_dek=sealed.wrapped_dek, sealed_body=sealed.ciphertext,
            created_at=now))
        await conn.execute(sa.update(reports).where(reports.c.id == report_id).values(updated_at=now))
        return entry_id

    async def read_entries(self, conn: AsyncConnection, report_id: str, kind: str) -> list[tuple[Any, str]]:
        rows = (await conn.execute(sa.select(entries).where(entries.c.report_id == report_id, entries.c.kind == kind)
                                   .order_by(entries.c.created_at, entries.c.id))).all()
        return [(row, self.open_entry(row)) for row in rows]

    async def messages(self, conn: AsyncConnection, report_id: str, *, for_handlers: bool) -> list[MessageOut]:
        out = []
        for row, text in await self.read_entries(conn, report_id, "message"):
            sender: Literal["reporter", "safeguarding"] = "reporter" if row.author_role == "reporter" \
                else "safeguarding"
            out.append(MessageOut(id=row.id, sender=sender, text=text, created_at=row.created_at,
                                  author_id=row.author_id if for_handlers else None))
        return out

    async def attachment_infos(self, conn: AsyncConnection, report_id: str) -> list[AttachmentInfo]:
        rows = (await conn.execute(sa.select(attachments).where(attachments.c.report_id == report_id)
                                   .order_by(attachments.c.created_at, attachments.c.id))).all()
        out = []
        for row in rows:
            meta = self.open_attachment_meta(row)
            out.append(AttachmentInfo(id=row.id, filename=meta.filename, media_type=meta.media_type, size=row.size))
        return out
