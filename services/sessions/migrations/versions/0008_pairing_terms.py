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
    op.add_column("pairings", sa.Column("term_ends_at", TS, nullable=True))
    op.add_column("pairings", sa.Column("term_reminded_at", TS, nullable=True))
    op.add_column("pairings", sa.Column("extension_until", TS, nullable=True))
    op.add_column("pairings", sa.Column("extension_by", sa.String(64), nullable=True))


def downgrade() -> None:
    # Not a batch: on SQLite that rebuilds the table, and meetings' foreign key forbids dropping pairings.
    # SQLite drops a plain column in place (3.35+); PostgreSQL always did.
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE pairings DROP COLUMN {column}")
