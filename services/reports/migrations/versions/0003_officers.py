"""Officers: projection of safeguarding accounts from tandem.user.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("safeguarding", sa.Boolean, nullable=False),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("officers")
