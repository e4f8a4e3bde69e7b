"""Disputes: cases, their transitions, access grants and the accesses made under them.

Its own branch ("disputes") off 0003, so the main line can keep adding 0004...; upgrade applies all heads.

Revision ID: d001
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "d001"
down_revision = "0003"
branch_labels = ("disputes",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("pairing_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_by_role", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_admin_ids", sa.Text, nullable=True),
        sa.Column("request_record_ids", sa.Text, nullable=True),
        sa.Column("request_window_hours", sa.Integer, nullable=True),
        sa.Column("break_glass_by", sa.String(64), nullable=True),
        sa.Column("break_glass_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
    )
    op.create_index("ix_disputes_session_id", "disputes", ["session_id"])
    op.create_index("ix_disputes_state", "disputes", ["state"])
    op.create_table(
        "dispute_events",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("dispute_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_event_id", sa.String(64), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_events"),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], name="fk_dispute_events_dispute_id_disputes"),
    )
    op.create_index("ix_dispute_events_dispute_id", "dispute_events", ["dispute_id"])
    op.create_table(
        "dispute_grants",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("dispute_id", sa.String(32), nullable=False),
        sa.Column("admin_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("break_glass", sa.Boolean, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_grants"),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], name="fk_dispute_grants_dispute_id_disputes"),
    )
    op.create_index("ix_dispute_grants_dispute_id", "dispute_grants", ["dispute_id"])
    op.create_index("ix_dispute_grants_admin_id", "dispute_grants", ["admin_id"])
    op.create_table(
        "dispute_accesses",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("dispute_id", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("admin_id", sa.String(64), nullable=False),
        sa.Column("range_start", sa.BigInteger, nullable=False),
        sa.Column("range_end", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_event_id", sa.String(64), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger, nullable=False),
        sa.Column("break_glass", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dispute_accesses"),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], name="fk_dispute_accesses_dispute_id_disputes"),
    )
    op.create_index("ix_dispute_accesses_dispute_id", "dispute_accesses", ["dispute_id"])


def downgrade() -> None:
    op.drop_table("dispute_accesses")
    op.drop_table("dispute_grants")
    op.drop_table("dispute_events")
    op.drop_table("disputes")
