"""Pairing terms (issue 17, item 4): each active pairing's term end, its reminder, a pending extension.
Pairings active before this migration get no term (they run until a member ends them).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
COLUMNS = ("term_ends_at", "term_reminded_at", "extension_until", "extension_by")


def upgrade() -> None:
    with op.batch_alter_table("pairings") as batch:
        batch.add_column(sa.Column("term_ends_at", TS, nullable=True))
        batch.add_column(sa.Column("term_reminded_at", TS, nullable=True))
        batch.add_column(sa.Column("extension_until", TS, nullable=True))
        batch.add_column(sa.Column("extension_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pairings") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
