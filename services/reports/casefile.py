"""Reading and writing one report's rows, shared by the reporter-facing (concerns) and the
handler-facing (cases) features. Every text passes through the vault; nothing here logs content."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reports.adapters.db import attachments, entries, reports
from services.reports.adapters.vault import new_id
from services.reports.domain import KIND_ATTACHMENT_META, KIND_BODY, AttachmentMeta, Body, EntryBody, ReportsContext
from shared.crypto import DecryptionError
from shared.http import NotFound
from shared.logging import get_logger

log = get_logger("tandem.reports")

NOT_FOUND = "No such report."


class AttachmentInfo(msgspec.Struct, frozen=True):
    id: str
    filename: str
    media_type: str
    size: int


class MessageOut(msgspec.Struct, frozen=True):
    id: str
    sender: Literal["reporter", "safeguarding"]
    text: str
    created_at: datetime
    author_id: str | None = None  # the handling officer; only ever shown to safeguarding


class NoteOut(msgspec.Struct, frozen=True):
    id: str
    author_id: str | None
    text: str
    created_at: datetime


async def load_report(conn: AsyncConnection, report_id: str, *, for_update: bool = False) -> Any:
    """A live (not shredded) report row, or None."""
    query = sa.select(reports).where(reports.c.id == report_id, reports.c.shredded_at.is_(None))
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


def open_body(ctx: ReportsContext, row: Any) -> Body:
    try:
        body = ctx.vault.open_json(row.id, KIND_BODY, row.kek_version, row.wrapped_dek, row.sealed_body, Body)
    except DecryptionError:
        # Never expected for a live row: say which row, not what failed inside the crypto.
        log.error("reports.body_unreadable", report_id=row.id)
        raise NotFound(NOT_FOUND) from None
    assert isinstance(body, Body)  # noqa: S101 - open_json decodes into the type it is given
    return body


def open_entry(ctx: ReportsContext, row: Any) -> str:
    body = ctx.vault.open_json(row.id, f"report.{row.kind}", row.kek_version, row.wrapped_dek, row.sealed_body,
                               EntryBody)
    assert isinstance(body, EntryBody)  # noqa: S101
    return body.text


async def add_entry(conn: AsyncConnection, ctx: ReportsContext, *, report_id: str, kind: Literal["note", "message"],
                    author_role: Literal["handler", "reporter"], author_id: str | None, text: str,
                    now: datetime) -> str:
    entry_id = new_id()
    sealed = ctx.vault.seal_json(entry_id, f"report.{kind}", EntryBody(text=text))
    await conn.execute(sa.insert(entries).values(
        id=entry_id, report_id=report_id, kind=kind, author_role=author_role, author_id=author_id,
        kek_version=sealed.kek_version, wrapped_dek=sealed.wrapped_dek, sealed_body=sealed.ciphertext,
        created_at=now))
    await conn.execute(sa.update(reports).where(reports.c.id == report_id).values(updated_at=now))
    return entry_id


async def read_entries(conn: AsyncConnection, ctx: ReportsContext, report_id: str, kind: str) -> list[tuple[Any, str]]:
    rows = (await conn.execute(sa.select(entries).where(entries.c.report_id == report_id, entries.c.kind == kind)
                               .order_by(entries.c.created_at, entries.c.id))).all()
    return [(row, open_entry(ctx, row)) for row in rows]


async def messages(conn: AsyncConnection, ctx: ReportsContext, report_id: str, *,
                   for_handlers: bool) -> list[MessageOut]:
    out = []
    for row, text in await read_entries(conn, ctx, report_id, "message"):
        sender: Literal["reporter", "safeguarding"] = "reporter" if row.author_role == "reporter" else "safeguarding"
        out.append(MessageOut(id=row.id, sender=sender, text=text, created_at=row.created_at,
                              author_id=row.author_id if for_handlers else None))
    return out


async def attachment_infos(conn: AsyncConnection, ctx: ReportsContext, report_id: str) -> list[AttachmentInfo]:
    rows = (await conn.execute(sa.select(attachments).where(attachments.c.report_id == report_id)
                               .order_by(attachments.c.created_at, attachments.c.id))).all()
    out = []
    for row in rows:
        meta = ctx.vault.open_json(row.id, KIND_ATTACHMENT_META, row.kek_version, row.wrapped_dek, row.sealed_meta,
                                   AttachmentMeta)
        assert isinstance(meta, AttachmentMeta)  # noqa: S101
        out.append(AttachmentInfo(id=row.id, filename=meta.filename, media_type=meta.media_type, size=row.size))
    return out
