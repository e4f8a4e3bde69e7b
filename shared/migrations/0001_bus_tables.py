"""Inbox and outbox tables of the event bus.

Revision ID: 0001
Revises:
"""

from shared.db import create_bus_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_bus_tables_v1()


def downgrade() -> None:
    from alembic import op

    op.drop_table("outbox")
    op.drop_table("processed_events")
