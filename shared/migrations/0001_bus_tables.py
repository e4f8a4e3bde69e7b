"""Inbox and outbox tables of the event bus: revision 0001 of every service (each service's own
revisions start from it; `shared.db` adds this folder to every service's version locations).

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.db import create_bus_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_bus_tables_v1()


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("processed_events")
