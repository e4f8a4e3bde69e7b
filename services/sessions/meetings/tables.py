"""The scheduled sessions' table: "meetings" rather than "sessions", as the word session is taken by
database and browser sessions."""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

TS = sa.DateTime(timezone=True)

meetings = sa.Table(
    "meetings", metadata,
    sa.Column("session_id", sa.String(32), primary_key=True),
    sa.Column("pairing_id", sa.String(32), sa.ForeignKey("pairings.pairing_id"), nullable=False, index=True),
    sa.Column("starts_at", TS, nullable=False),
    sa.Column("ends_at", TS, nullable=False),
    # The agenda, sealed (adapters/vault.py): its own data key wrapped by the sessions keyring. All three
    # NULL when there is none or it was shredded; the plaintext is never stored.
    sa.Column("agenda_kek_version", sa.Integer, nullable=True),
    sa.Column("agenda_wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("agenda_sealed", sa.LargeBinary, nullable=True),
    sa.Column("state", sa.String(16), nullable=False),  # scheduled | cancelled
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)
