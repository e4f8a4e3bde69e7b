"""Ledger tables (created by migrations 0002 and 0004) on the records metadata."""

import sqlalchemy as sa

from services.records.adapters.db import metadata

GENESIS = "0" * 64

audit_entries = sa.Table(
    "audit_entries", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Column("actor_hmac", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(100), nullable=False, index=True),
    sa.Column("target", sa.String(200), nullable=True),
    sa.Column("target_hmac", sa.String(64), nullable=False, index=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason_hmac", sa.String(64), nullable=True),
    sa.Column("reason_sealed", sa.LargeBinary, nullable=True),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
)

# Who must never be shown an entry (migration 0004): the subject of a report, as a keyed HMAC of their
# account id. Not part of the chain hash (chain.FIELDS), so entries chained before it still verify:
# it narrows who reads an entry, it is not a fact the ledger attests.
audit_hidden = sa.Table(
    "audit_hidden", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("reader_hmac", sa.String(64), primary_key=True, index=True),
)

# A single row (id = 1): the last appended seq and hash. Appenders UPDATE it first, which takes the
# row lock on PostgreSQL and the write lock on SQLite, so concurrent instances queue instead of forking.
audit_head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("seq", sa.BigInteger, nullable=False, index=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sa.Column("object_key", sa.String(200), nullable=True),
)
