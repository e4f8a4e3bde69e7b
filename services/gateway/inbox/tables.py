import sqlalchemy as sa

from services.gateway.adapters.db import metadata, utc

inbox_items = sa.Table(
    "inbox_items", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(64), nullable=False),  # the event type, e.g. "record.accessed"
    sa.Column("subject_id", sa.String(64), nullable=False),  # pairing / record / dispute / report id
    sa.Column("facts", sa.Text, nullable=False),  # JSON of ids and flags from the event, never content
    sa.Column("created_at", utc(), nullable=False),
    sa.Column("read_at", utc(), nullable=True),
)

# Members of each pairing, projected from tandem.pairing events, so session and recording events
# (which carry only the pairing id) reach both members.
pairing_members = sa.Table(
    "pairing_members", metadata,
    sa.Column("pairing_id", sa.String(64), primary_key=True),
    sa.Column("mentor_id", sa.String(32), nullable=False),
    sa.Column("mentee_id", sa.String(32), nullable=False),
)
