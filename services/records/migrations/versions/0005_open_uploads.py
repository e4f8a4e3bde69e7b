"""Open multipart uploads of recordings, so the sweeper can abort the ones a failed upload left.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_uploads",
        sa.Column("object_key", sa.String(255), nullable=False),
        sa.Column("upload_id", sa.String(1024), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("object_key", "upload_id", name="pk_open_uploads"),
    )
    op.create_index("ix_open_uploads_started_at", "open_uploads", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_open_uploads_started_at", table_name="open_uploads")
    op.drop_table("open_uploads")
