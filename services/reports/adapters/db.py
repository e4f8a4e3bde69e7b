"""The reports database: one metadata for every table of this service (the bus tables on it) and the
timestamp type of its columns (`UtcDateTime`).

The tables are declared by what owns them: a report's rows in casefile/tables.py, reveal requests in
cases/tables.py, the officers projection in officers/tables.py, the blind-index key in
adapters/index_key.py. Text (concern, notes, messages, reveal reasons, the subject references) is only
ever stored sealed, each object under its own data key wrapped by the reports keyring; shredding a
report nulls the wrapped keys and sealed columns and leaves the row as a content-free tombstone.
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shared.db import service_metadata

metadata, inbox, outbox = service_metadata()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp column that is timezone-aware UTC on the way out, also on SQLite (which hands back
    naive values), and refuses a naive datetime on the way in."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
