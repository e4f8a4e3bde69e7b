"""Evaluation: reflections and the programme's survey (issue 17, item 6): members' sealed reflections, the
survey's versions, who answered which version, and the sealed answers kept apart from them
(evaluation/tables.py).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _sealed() -> list[sa.Column]:
    return [sa.Column("kek_version", sa.Integer, nullable=False),
            sa.Column("wrapped_dek", sa.LargeBinary, nullable=False),
            sa.Column("sealed", sa.LargeBinary, nullable=False)]


def _version_fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey("evaluation_surveys.version", name=f"fk_{table}_version_evaluation_surveys")


def upgrade() -> None:
    op.create_table(
        "evaluation_reflections",
        sa.Column("pairing_id", sa.String(32), sa.ForeignKey(
            "pairings.pairing_id", name="fk_evaluation_reflections_pairing_id_pairings"), primary_key=True),
        sa.Column("author_id", sa.String(64), primary_key=True),
        *_sealed(),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "evaluation_surveys",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("questions", sa.Text, nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("published_at", TS, nullable=False),
    )
    # No rowid on SQLite: insertion order would pair the n-th respondent with the n-th response.
    op.create_table(
        "evaluation_respondents",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, _version_fk("evaluation_respondents"), primary_key=True),
        sa.Column("responded_on", sa.Date, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "evaluation_responses",
        sa.Column("response_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, _version_fk("evaluation_responses"), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        *_sealed(),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_evaluation_responses_version", "evaluation_responses", ["version"])


def downgrade() -> None:
    op.drop_index("ix_evaluation_responses_version", table_name="evaluation_responses")
    for table in ("evaluation_responses", "evaluation_respondents", "evaluation_surveys", "evaluation_reflections"):
        op.drop_table(table)
