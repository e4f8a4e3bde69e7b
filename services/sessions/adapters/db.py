"""The sessions database: one metadata for every table of this service."""

import sqlalchemy as sa

from shared.db import service_metadata

metadata, inbox, outbox = service_metadata()

TS = sa.DateTime(timezone=True)

# Projection of the gateway's users: only the facts matching needs (ids and flags, no names).
users = sa.Table(
    "users", metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("roles", sa.String(200), nullable=False, server_default=""),
    sa.Column("vetted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("agreements_accepted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", TS, nullable=False),
)

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
)

# "meetings" rather than "sessions": the word session is taken by DB and browser sessions.
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
    sa.Column("at", TS, nullable=False),
    sa.Column("recording_id", sa.String(32), nullable=True),
    sa.Column("reason", sa.String(32), nullable=True),
)
