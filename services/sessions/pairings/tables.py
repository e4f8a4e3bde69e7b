"""The pairings table."""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

TS = sa.DateTime(timezone=True)

pairings = sa.Table(
    "pairings", metadata,
    sa.Column("pairing_id", sa.String(32), primary_key=True),
    sa.Column("mentor_id", sa.String(64), nullable=False, index=True),
    sa.Column("mentee_id", sa.String(64), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),  # proposed | active | declined | ended
    sa.Column("proposed_by", sa.String(64), nullable=False),
    sa.Column("mentor_accepted_at", TS, nullable=True),
    sa.Column("mentee_accepted_at", TS, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("activated_at", TS, nullable=True),
    sa.Column("closed_at", TS, nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # The term (pairings/terms.py): set at activation; an extension waits for the other member.
    sa.Column("term_ends_at", TS, nullable=True),
    sa.Column("term_reminded_at", TS, nullable=True),
    sa.Column("extension_until", TS, nullable=True),
    sa.Column("extension_by", sa.String(64), nullable=True),
)
