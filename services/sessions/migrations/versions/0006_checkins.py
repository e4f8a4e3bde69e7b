"""Check-ins (issue 17, item 5): the programme's setting (one row, off), members' plans and their answers
(the comment sealed).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    settings = op.create_table(
        "checkin_settings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("default_every_weeks", sa.Integer, nullable=False, server_default="4"),
        sa.Column("grace_days", sa.Integer, nullable=False, server_default="7"),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.Column("updated_at", TS, nullable=True),
    )
    op.bulk_insert(settings, [{"id": 1, "enabled": False, "default_every_weeks": 4, "grace_days": 7}])
    op.create_table(
        "checkin_plans",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("every_weeks", sa.Integer, nullable=False),
        sa.Column("next_due_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "checkin_answers",
        sa.Column("checkin_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=False),
        sa.Column("progressing", sa.String(8), nullable=False),
        sa.Column("uncomfortable", sa.Boolean, nullable=False),
        sa.Column("wants_contact", sa.Boolean, nullable=False),
        sa.Column("needs_attention", sa.Boolean, nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("kek_version", sa.Integer, nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
        sa.Column("sealed", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_checkin_answers_user_id", "checkin_answers", ["user_id"])


def downgrade() -> None:
    for table in ("checkin_answers", "checkin_plans", "checkin_settings"):
        op.drop_table(table)
