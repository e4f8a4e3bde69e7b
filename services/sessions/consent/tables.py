"""Consent state and its ledger."""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

# Live consent state of a session (the pure machine's state, JSON), optimistic-locked by version:
# the two members may sit on different instances and act at the same moment.
consent_state = sa.Table(
    "consent_state", metadata,
    sa.Column("session_id", sa.String(32), primary_key=True),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

# Append-only evidence: every consent transition with actor and time.
consent_ledger = sa.Table(
    "consent_ledger", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # requested | granted | revoked | started | stopped
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recording_id", sa.String(32), nullable=True),
    sa.Column("reason", sa.String(32), nullable=True),
)
