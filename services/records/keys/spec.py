"""Where the records service keeps wrapped data keys, for the shared key commands (shared/keyadmin):
one per note or recording object, bound to the object's crypto id. `tandem keys rewrap` prints each
batch (terabytes of recordings make a long metadata pass) and `retire` the count that proves it."""

from __future__ import annotations

from services.records.config import Settings
from services.records.lifecycle.tables import record_objects
from shared.keyadmin import KeyCommands, WrappedKeys

KEYS = KeyCommands[Settings](
    service="records",
    wrapped=(WrappedKeys(record_objects, bound_to="crypto_id"),),
    rewrap="tandem keys rewrap",
    progress=True,
)
