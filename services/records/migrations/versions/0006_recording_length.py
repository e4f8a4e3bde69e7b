"""A recording's length (milliseconds), from its WebM index; null when it has none.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("duration_ms", sa.BigInteger, nullable=True))


def downgrade() -> None:
    op.drop_column("records", "duration_ms")
