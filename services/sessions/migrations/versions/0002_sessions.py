"""Users projection, pairings, scheduled sessions, consent state and ledger.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("roles", sa.String(200), nullable=False, server_default=""),
        sa.Column("vetted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("agreements_accepted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "pairings",
        sa.Column("pairing_id", sa.String(32), primary_key=True),
        sa.Column("mentor_id", sa.String(64), nullable=False),
        sa.Column("mentee_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(64), nullable=False),
        sa.Column("mentor_accepted_at", TS, nullable=True),
        sa.Column("mentee_accepted_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("activated_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_pairings_mentor_id", "pairings", ["mentor_id"])
    op.create_index("ix_pairings_mentee_id", "pairings", ["mentee_id"])
    op.create_table(
        "meetings",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("pairing_id", sa.String(32), sa.ForeignKey("pairings.pairing_id",
                  name="fk_meetings_pairing_id_pairings"), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("agenda", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_meetings_pairing_id", "meetings", ["pairing_id"])
    op.create_table(
        "consent_state",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "consent_ledger",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("recording_id", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
    )
    op.create_index("ix_consent_ledger_session_id", "consent_ledger", ["session_id"])


def downgrade() -> None:
    for name in ("consent_ledger", "consent_state", "meetings", "pairings", "users"):
        op.drop_table(name)
