"""Audit entries hidden from given readers (the subject of a report never sees its trail).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per (entry, reader): the reader's account id as a keyed HMAC, never in clear.
    op.create_table(
        "audit_hidden",
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("reader_hmac", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", "reader_hmac", name="pk_audit_hidden"),
    )
    op.create_index("ix_audit_hidden_reader_hmac", "audit_hidden", ["reader_hmac"])


def downgrade() -> None:
    op.drop_index("ix_audit_hidden_reader_hmac", table_name="audit_hidden")
    op.drop_table("audit_hidden")
