"""Records, their sealed objects, and the pairing/session projection.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pairings",
        sa.Column("pairing_id", sa.String(64), nullable=False),
        sa.Column("mentor_id", sa.String(64), nullable=False),
        sa.Column("mentee_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("pairing_id", name="pk_pairings"),
    )
    op.create_table(
        "pairing_sessions",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("pairing_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_pairing_sessions"),
    )
    op.create_index("ix_pairing_sessions_pairing_id", "pairing_sessions", ["pairing_id"])
    op.create_table(
        "records",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pairing_id", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("author_id", sa.String(64), nullable=True),
        sa.Column("visibility", sa.String(16), nullable=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legal_hold", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("consent_evidence", sa.Text, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiry_reason", sa.String(16), nullable=True),
        sa.Column("receipt", sa.Text, nullable=True),
        sa.Column("receipt_digest", sa.String(64), nullable=True),
        sa.Column("receipt_signature", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
    )
    op.create_index("ix_records_pairing_id", "records", ["pairing_id"])
    op.create_index("ix_records_session_id", "records", ["session_id"])
    op.create_index("ix_records_author_id", "records", ["author_id"])
    op.create_index("ix_records_retain_until", "records", ["retain_until"])
    op.create_table(
        "record_objects",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("object_key", sa.String(80), nullable=True),
        sa.Column("crypto_id", sa.String(80), nullable=False),
        sa.Column("plaintext_size", sa.BigInteger, nullable=False),
        sa.Column("ciphertext_size", sa.BigInteger, nullable=False),
        sa.Column("segment_size", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("kek_version", sa.Integer, nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_record_objects"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_record_objects_record_id_records"),
        sa.UniqueConstraint("record_id", "version", name="uq_record_objects_record_id_version"),
    )
    op.create_index("ix_record_objects_record_id", "record_objects", ["record_id"])
    op.create_index("ix_record_objects_kek_version", "record_objects", ["kek_version"])


def downgrade() -> None:
    op.drop_table("record_objects")
    op.drop_table("records")
    op.drop_table("pairing_sessions")
    op.drop_table("pairings")
