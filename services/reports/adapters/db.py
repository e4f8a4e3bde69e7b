"""The reports database: one metadata for every table of this service.

Text (concern, notes, messages, reveal reasons, the subject references) is only ever stored sealed,
each object under its own data key wrapped by the reports keyring; shredding a report nulls the
wrapped keys and sealed columns and leaves the row as a content-free tombstone.
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shared.db import service_metadata


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, also on SQLite (which hands back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


metadata, inbox, outbox = service_metadata()

TS = UtcDateTime()

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
    sa.Column("kek_version", sa.Integer, nullable=True),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("sealed_body", sa.LargeBinary, nullable=True),  # {text, session_id, person_id, reporter_id}
    sa.Column("created_at", TS, nullable=False),
    sa.Column("ack_due_at", TS, nullable=False),
    sa.Column("acknowledged_at", TS, nullable=True),
    sa.Column("overdue_at", TS, nullable=True),
    sa.Column("closed_at", TS, nullable=True),
    sa.Column("identity_revealed_at", TS, nullable=True),
    sa.Column("legal_hold", sa.Boolean, nullable=False, default=False),
    sa.Column("shredded_at", TS, nullable=True),
    sa.Column("updated_at", TS, nullable=False),
)

# The key of the blind indexes, wrapped by the keyring like any DEK (one row per version).
index_keys = sa.Table(
    "index_keys", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kek_version", sa.Integer, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# Projection of tandem.user, kept only for accounts that hold (or held) the safeguarding role:
# assignment must go to an active officer. Nobody else's account id is recorded here.
officers = sa.Table(
    "officers", metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("safeguarding", sa.Boolean, nullable=False),
    sa.Column("suspended", sa.Boolean, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# Internal notes (handlers only) and messages between handlers and the reporter.
entries = sa.Table(
    "report_entries", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # note | message
    sa.Column("author_role", sa.String(16), nullable=False),  # handler | reporter
    sa.Column("author_id", sa.String(128), nullable=True),  # handlers only: a reporter is never named here
    sa.Column("kek_version", sa.Integer, nullable=True),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("sealed_body", sa.LargeBinary, nullable=True),
    sa.Column("created_at", TS, nullable=False),
)

attachments = sa.Table(
    "report_attachments", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id"), nullable=False, index=True),
    sa.Column("object_key", sa.String(64), nullable=True),  # random; nulled once the object is deleted
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("kek_version", sa.Integer, nullable=True),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("sealed_meta", sa.LargeBinary, nullable=True),  # {filename, media_type}
    sa.Column("created_at", TS, nullable=False),
)

reveal_requests = sa.Table(
    "reveal_requests", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id"), nullable=False, index=True),
    sa.Column("requested_by", sa.String(128), nullable=False),
    sa.Column("approved_by", sa.String(128), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),  # pending | approved
    sa.Column("kek_version", sa.Integer, nullable=True),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("sealed_reason", sa.LargeBinary, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("approved_at", TS, nullable=True),
)
