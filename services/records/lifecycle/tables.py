"""Records (notes and recordings) and their sealed objects.

A record is what people see (a note, a recording); each version of it is one sealed object in S3
with its own data key. Crypto-shredding nulls `wrapped_dek` first, then deletes the object; the
record row stays as a tombstone without personal data.
"""

import sqlalchemy as sa

from services.records.adapters.db import metadata

records = sa.Table(
    "records", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # note | recording
    sa.Column("state", sa.String(16), nullable=False),  # active | shredding | expired
    sa.Column("pairing_id", sa.String(64), nullable=True, index=True),
    sa.Column("session_id", sa.String(64), nullable=True, index=True),
    sa.Column("author_id", sa.String(64), nullable=True, index=True),
    sa.Column("visibility", sa.String(16), nullable=True),  # notes: private | pair
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("media_type", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True, index=True),
    sa.Column("legal_hold", sa.Boolean, nullable=False, default=False),
    sa.Column("consent_evidence", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.BigInteger, nullable=True),  # recordings: from the WebM index; null without one
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expiry_reason", sa.String(16), nullable=True),
    sa.Column("receipt", sa.Text, nullable=True),
    sa.Column("receipt_digest", sa.String(64), nullable=True),
    sa.Column("receipt_signature", sa.Text, nullable=True),
)

record_objects = sa.Table(
    "record_objects", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(32), sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("object_key", sa.String(80), nullable=True),
    sa.Column("crypto_id", sa.String(80), nullable=False),
    sa.Column("plaintext_size", sa.BigInteger, nullable=False),
    sa.Column("ciphertext_size", sa.BigInteger, nullable=False),
    sa.Column("segment_size", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=True),
    sa.Column("kek_version", sa.Integer, nullable=True, index=True),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("record_id", "version", name="uq_record_objects_record_id_version"),
)
