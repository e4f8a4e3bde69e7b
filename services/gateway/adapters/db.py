"""The gateway database: one metadata for every table of this service (features declare theirs in
their own tables.py; importing `all_tables` registers them all)."""

import sqlalchemy as sa

from shared.db import service_metadata

metadata, inbox, outbox = service_metadata()


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)
