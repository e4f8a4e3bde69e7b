"""Where the sessions service keeps wrapped data keys, for the shared key commands (shared/keyadmin):
one per sealed agenda, in the meeting's row, bound to the session id."""

from __future__ import annotations

from services.sessions.adapters.vault import open_keyring, register_for_migrations
from services.sessions.config import Settings
from services.sessions.meetings.tables import meetings
from shared.crypto import LocalKeyring
from shared.keyadmin import KeyCommands, WrappedKeys


def keyring(settings: Settings) -> LocalKeyring:
    """The agendas' keyring, registered for the migrations first (revision 0003 seals with it)."""
    register_for_migrations(settings.database_url, settings.keyring_path)
    return open_keyring(settings.keyring_path)


KEYS = KeyCommands[Settings](
    service="sessions",
    wrapped=(WrappedKeys(meetings, blob="agenda_wrapped_dek", version="agenda_kek_version"),),
    keyring=keyring,
)
