"""Projection of pairings and sessions from the sessions service's events (never a shared database)."""

import sqlalchemy as sa

from services.records.adapters.db import metadata

pairings = sa.Table(
    "pairings", metadata,
    sa.Column("pairing_id", sa.String(64), primary_key=True),
    sa.Column("mentor_id", sa.String(64), nullable=False),
    sa.Column("mentee_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # active | ended
    sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
)

pairing_sessions = sa.Table(
    "pairing_sessions", metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("pairing_id", sa.String(64), nullable=False, index=True),
)
