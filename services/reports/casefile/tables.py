"""A report's rows. Every text is sealed under the row's own data key (`kek_version`, `wrapped_dek` and
the sealed column); shredding nulls the three and leaves a content-free tombstone."""

from __future__ import annotations

import sqlalchemy as sa

from services.reports.adapters.db import UtcDateTime, metadata


def sealed(column: str) -> tuple[sa.Column[object], ...]:
    """The wrapped data key of a row and its sealed `column`: all NULL once shredded."""
    return (sa.Column("kek_version", sa.Integer, nullable=True),
            sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
            sa.Column(column, sa.LargeBinary, nullable=True))


def of_report() -> tuple[sa.Column[object], ...]:
    """The id of a row that belongs to one report, and that report's id."""
    return (sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id"), nullable=False, index=True))


reports = sa.Table(
    "reports", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("urgent", sa.Boolean, nullable=False),
    sa.Column("anonymous", sa.Boolean, nullable=False),
    # Keyed blind indexes (HMAC under the sealed index key), never the ids themselves: the reporter's
    # account (identified reports: "my reports") and the person the report is about (hidden from them).
    sa.Column("reporter_tag", sa.String(64), nullable=True, index=True),
    sa.Column("subject_tag", sa.String(64), nullable=True, index=True),
    # Anonymous reports only: receipt = lookup id + secret; only the argon2id hash of the secret is kept.
    sa.Column("lookup_id", sa.String(32), nullable=True, unique=True),
    sa.Column("receipt_hash", sa.String(256), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("assignee_id", sa.String(128), nullable=True),
    *sealed("sealed_body"),  # {text, session_id, person_id, reporter_id}
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("ack_due_at", UtcDateTime(), nullable=False),
    sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
    sa.Column("overdue_at", UtcDateTime(), nullable=True),
    sa.Column("closed_at", UtcDateTime(), nullable=True),
    sa.Column("identity_revealed_at", UtcDateTime(), nullable=True),
    sa.Column("legal_hold", sa.Boolean, nullable=False, default=False),
    sa.Column("shredded_at", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# Internal notes (handlers only) and messages between handlers and the reporter.
entries = sa.Table(
    "report_entries", metadata,
    *of_report(),
    sa.Column("kind", sa.String(16), nullable=False),  # note | message
    sa.Column("author_role", sa.String(16), nullable=False),  # handler | reporter
    sa.Column("author_id", sa.String(128), nullable=True),  # handlers only: a reporter is never named here
    *sealed("sealed_body"),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

attachments = sa.Table(
    "report_attachments", metadata,
    *of_report(),
    sa.Column("object_key", sa.String(64), nullable=True),  # random; nulled once the object is deleted
    sa.Column("size", sa.Integer, nullable=False),
    *sealed("sealed_meta"),  # {filename, media_type}
    sa.Column("created_at", UtcDateTime(), nullable=False),
)
