"""The sessions database: one metadata for every table of this service, with the bus tables on it.

The tables are declared by the features that own them: users/tables.py (the projection),
pairings/tables.py, meetings/tables.py (sessions and their sealed agendas), consent/tables.py.
"""

from shared.db import service_metadata

metadata, inbox, outbox = service_metadata()
