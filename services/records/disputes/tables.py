"""Dispute tables (created by migration d001, its own Alembic branch "disputes").

Reasons are never stored here: each transition's reason lives sealed in the audit ledger, found
again through `dispute_events.ledger_event_id`."""

import sqlalchemy as sa

from services.records.adapters.db import metadata

disputes = sa.Table(
    "disputes", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session_id", sa.String(64), nullable=False, index=True),
    sa.Column("pairing_id", sa.String(64), nullable=False),
    # open | pending | approved | rejected | break_glass | closed
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),  # optimistic concurrency for transitions
    sa.Column("opened_by", sa.String(64), nullable=False),
    sa.Column("opened_by_role", sa.String(16), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # The pending access request (four-eyes: whoever decides is neither the opener nor the requester).
    sa.Column("requested_by", sa.String(64), nullable=True),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("request_admin_ids", sa.Text, nullable=True),  # JSON list
    sa.Column("request_record_ids", sa.Text, nullable=True),  # JSON list
    sa.Column("request_window_hours", sa.Integer, nullable=True),
    sa.Column("break_glass_by", sa.String(64), nullable=True),
    sa.Column("break_glass_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=True),
)

dispute_events = sa.Table(
    "dispute_events", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("dispute_id", sa.String(32), sa.ForeignKey("disputes.id"), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # state after the transition
    sa.Column("actor_id", sa.String(64), nullable=False),
    sa.Column("actor_role", sa.String(16), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ledger_event_id", sa.String(64), nullable=False),
    sa.Column("ledger_seq", sa.BigInteger, nullable=False),  # orders transitions (the ledger is one chain)
    sa.Column("detail", sa.String(64), nullable=True),  # outcome or verdict (a code, never free text)
)

dispute_grants = sa.Table(
    "dispute_grants", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("dispute_id", sa.String(32), sa.ForeignKey("disputes.id"), nullable=False, index=True),
    sa.Column("admin_id", sa.String(64), nullable=False, index=True),
    sa.Column("record_id", sa.String(32), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("granted_by", sa.String(64), nullable=False),
    sa.Column("break_glass", sa.Boolean, nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

dispute_accesses = sa.Table(
    "dispute_accesses", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("dispute_id", sa.String(32), sa.ForeignKey("disputes.id"), nullable=False, index=True),
    sa.Column("record_id", sa.String(32), nullable=False),
    sa.Column("admin_id", sa.String(64), nullable=False),
    sa.Column("range_start", sa.BigInteger, nullable=False),
    sa.Column("range_end", sa.BigInteger, nullable=False),  # inclusive; -1 for an empty record
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ledger_event_id", sa.String(64), nullable=False),
    sa.Column("ledger_seq", sa.BigInteger, nullable=False),
    sa.Column("break_glass", sa.Boolean, nullable=False),
)
