"""The reports database: one metadata for every table of this service, with the bus tables on it.

The tables are declared by what owns them: a report's rows in casefile/tables.py, reveal requests in
cases/tables.py, the officers projection in officers/tables.py, the blind-index key in
adapters/index_key.py. Text (concern, notes, messages, reveal reasons, the subject references) is only
ever stored sealed, each object under its own data key wrapped by the reports keyring; shredding a
report nulls the wrapped keys and sealed columns and leaves the row as a content-free tombstone.
"""

from shared.db import service_metadata

metadata, inbox, outbox = service_metadata()
