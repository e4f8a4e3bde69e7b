"""Seal session agendas: every plaintext agenda becomes sealed under the sessions keyring.

The plaintext column is not merely dropped: `meetings` is rebuilt (new table, rows copied with their
agendas sealed, old table dropped), because both databases keep a dropped column's values in the old
rows (PostgreSQL until each row is rewritten; SQLite in the freed pages). On PostgreSQL the old table's
files are unlinked when the migration commits; on SQLite `secure_delete` zeroes the freed pages.
What neither can reach: copies made before this migration (PostgreSQL WAL archives, backups, SQLite
files copied elsewhere) keep the plaintext until they expire (docs/encryption.md, section 6).

Downgrade refuses while any sealed agenda exists: it would have to write them back in clear.
Shred them first (docs/sessions.md, "Agendas"), or restore a backup taken before 0003.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from services.sessions.adapters.vault import AgendaVault, keyring_for_migration

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
OLD = "meetings_plain_0002"
COPIED = ("session_id", "pairing_id", "starts_at", "ends_at", "state", "created_by", "created_at")


def _create_meetings() -> None:
    op.create_table(
        "meetings",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("pairing_id", sa.String(32), sa.ForeignKey("pairings.pairing_id",
                  name="fk_meetings_pairing_id_pairings"), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("agenda_kek_version", sa.Integer, nullable=True),
        sa.Column("agenda_wrapped_dek", sa.LargeBinary, nullable=True),
        sa.Column("agenda_sealed", sa.LargeBinary, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_meetings_pairing_id", "meetings", ["pairing_id"])


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete=ON")  # this connection: zero every page the rebuild frees
    op.drop_index("ix_meetings_pairing_id", table_name="meetings")
    op.rename_table("meetings", OLD)
    if bind.dialect.name == "postgresql":
        # The primary key's index is a relation named like the constraint: free the name for the new table.
        op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT pk_meetings TO pk_{OLD}")
    _create_meetings()
    old = sa.table(OLD, *(sa.column(c) for c in (*COPIED, "agenda")))
    new = sa.table("meetings", *(sa.column(c) for c in (*COPIED, "agenda_kek_version", "agenda_wrapped_dek",
                                                         "agenda_sealed")))
    rows = bind.execute(sa.select(old)).mappings().all()
    vault = AgendaVault(keyring_for_migration(bind)) if any(r["agenda"] is not None for r in rows) else None
    values = []
    for row in rows:
        item = {c: row[c] for c in COPIED}
        text = row["agenda"]
        if text is not None and vault is not None:
            sealed = vault.seal(row["session_id"], text)
            item |= {"agenda_kek_version": sealed.kek_version, "agenda_wrapped_dek": sealed.wrapped_dek,
                     "agenda_sealed": sealed.ciphertext}
        else:
            item |= {"agenda_kek_version": None, "agenda_wrapped_dek": None, "agenda_sealed": None}
        values.append(item)
    if values:
        bind.execute(sa.insert(new), values)
    op.drop_table(OLD)


def downgrade() -> None:
    bind = op.get_bind()
    sealed = bind.execute(sa.text("SELECT COUNT(*) FROM meetings WHERE agenda_sealed IS NOT NULL")).scalar_one()
    if sealed:
        raise RuntimeError(f"refusing to downgrade below 0003: {sealed} sealed agendas would be written back "
                           "in clear; shred them first or restore a backup taken before 0003")
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("agenda", sa.Text, nullable=True))
        batch.drop_column("agenda_sealed")
        batch.drop_column("agenda_wrapped_dek")
        batch.drop_column("agenda_kek_version")
