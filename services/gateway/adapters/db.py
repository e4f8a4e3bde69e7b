"""The gateway database: one metadata for every table of this service (features declare theirs in
their own tables.py; importing `all_tables` registers them all)."""

import sqlalchemy as sa

from shared.db import bus_tables

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
inbox, outbox = bus_tables(metadata)


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)
