"""Reports, notes and messages, attachments, identity-reveal requests.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("reporter_tag", sa.String(64), nullable=True),
        sa.Column("subject_tag", sa.String(64), nullable=True),
        sa.Column("lookup_id", sa.String(32), nullable=True),
        sa.Column("receipt_hash", sa.String(256), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.String(128), nullable=True),
        sa.Column("kek_version", sa.Integer, nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
        sa.Column("sealed_body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("ack_due_at", TS, nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("overdue_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("identity_revealed_at", TS, nullable=True),
        sa.Column("legal_hold", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("shredded_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("lookup_id", name="uq_reports_lookup_id"),
    )
    op.create_index("ix_reports_reporter_tag", "reports", ["reporter_tag"])
    op.create_index("ix_reports_subject_tag", "reports", ["subject_tag"])
    op.create_table(
        "index_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kek_version", sa.Integer, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_reports_state", "reports", ["state"])
    op.create_table(
        "report_entries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id", name="fk_report_entries_report_id_reports"),
                  nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("author_id", sa.String(128), nullable=True),
        sa.Column("kek_version", sa.Integer, nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
        sa.Column("sealed_body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_report_entries_report_id", "report_entries", ["report_id"])
    op.create_table(
        "report_attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("report_id", sa.String(32),
                  sa.ForeignKey("reports.id", name="fk_report_attachments_report_id_reports"), nullable=False),
        sa.Column("object_key", sa.String(64), nullable=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("kek_version", sa.Integer, nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
        sa.Column("sealed_meta", sa.LargeBinary, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_report_attachments_report_id", "report_attachments", ["report_id"])
    op.create_table(
        "reveal_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("report_id", sa.String(32),
                  sa.ForeignKey("reports.id", name="fk_reveal_requests_report_id_reports"), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("kek_version", sa.Integer, nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
        sa.Column("sealed_reason", sa.LargeBinary, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("approved_at", TS, nullable=True),
    )
    op.create_index("ix_reveal_requests_report_id", "reveal_requests", ["report_id"])


def downgrade() -> None:
    op.drop_table("reveal_requests")
    op.drop_table("report_attachments")
    op.drop_table("report_entries")
    op.drop_table("index_keys")
    op.drop_table("reports")
