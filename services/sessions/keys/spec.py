"""Where the sessions service keeps wrapped data keys, for the shared key commands (shared/keyadmin):
one per sealed agenda, in the meeting's row, bound to the session id."""

from __future__ import annotations

from services.sessions.adapters.db import meetings
from shared.keyadmin import KeyCommands, WrappedKeys

KEYS = KeyCommands(
    wrapped=(WrappedKeys(meetings, blob="agenda_wrapped_dek", version="agenda_kek_version"),),
    rewrap="keys rewrap",
)
