"""The records database: one metadata for every table of this service."""


from shared.db import service_metadata

metadata, inbox, outbox = service_metadata()
