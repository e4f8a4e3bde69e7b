"""Profiles, the matching questionnaire and sealed answers, preferences, conflicts of interest, matching
weights and rounds (issue 17).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _sealed(prefix: str = "", *, nullable: bool = False) -> list[sa.Column]:
    return [sa.Column(f"{prefix}kek_version", sa.Integer, nullable=nullable),
            sa.Column(f"{prefix}wrapped_dek", sa.LargeBinary, nullable=nullable),
            sa.Column(f"{prefix}sealed", sa.LargeBinary, nullable=nullable)]


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("bio", sa.Text, nullable=False, server_default=""),
        sa.Column("areas", sa.Text, nullable=False, server_default="[]"),
        sa.Column("languages", sa.Text, nullable=False, server_default="[]"),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "questionnaires",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("questions", sa.Text, nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("published_at", TS, nullable=False),
    )
    op.create_table(
        "questionnaire_answers",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        *_sealed(),
        *_sealed("special_", nullable=True),
        sa.Column("special_consent_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "matching_weights",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("weights", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "matching_preferences",
        sa.Column("mentee_id", sa.String(64), primary_key=True),
        sa.Column("choices", sa.Text, nullable=False, server_default="[]"),
        sa.Column("match_me", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "matching_conflicts",
        sa.Column("mentee_id", sa.String(64), primary_key=True),
        sa.Column("mentor_id", sa.String(64), primary_key=True),
        sa.Column("declared_by", sa.String(64), nullable=False),
        sa.Column("declared_at", TS, nullable=False),
    )
    op.create_table(
        "matching_rounds",
        sa.Column("round_id", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        *_sealed(),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )


def downgrade() -> None:
    for table in ("matching_rounds", "matching_conflicts", "matching_preferences", "matching_weights",
                  "questionnaire_answers", "questionnaires", "profiles"):
        op.drop_table(table)
