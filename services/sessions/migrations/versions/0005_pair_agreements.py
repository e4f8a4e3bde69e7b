"""The pair's mentoring agreement (issue 17, item 3): the programme's template versions and each
pairing's sealed agreement versions (mentoring_agreement/tables.py).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pair_agreement_templates",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sections", sa.Text, nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("published_at", TS, nullable=False),
    )
    op.create_table(
        "pair_agreements",
        sa.Column("pairing_id", sa.String(32), sa.ForeignKey("pairings.pairing_id",
                  name="fk_pair_agreements_pairing_id_pairings"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("edited_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("mentor_accepted_at", TS, nullable=True),
        sa.Column("mentee_accepted_at", TS, nullable=True),
        sa.Column("kek_version", sa.Integer, nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
        sa.Column("sealed", sa.LargeBinary, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pair_agreements")
    op.drop_table("pair_agreement_templates")
