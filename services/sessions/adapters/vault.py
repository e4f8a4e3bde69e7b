"""Sealing edge of the sessions service: session agendas are sealed here and nowhere else.

Each agenda gets its own data key (DEK), wrapped by the sessions keyring (KEK, this service's own
file, never the records' or the reports'). The wrap binds the session id; the sealed text binds the
session id and the kind "agenda" (docs/encryption.md, the same envelope as notes), so a sealed agenda
or its wrapped key copied onto another session's row does not open. Crypto-shredding = setting the
three agenda columns to NULL: without the wrapped DEK nothing can open the ciphertext again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.sessions.config import Settings
from shared.config import load_settings
from shared.crypto import (
    DecryptionError,
    KeyEncryptionKeyProvider,
    LocalKeyring,
    StreamContext,
    WrappedKey,
    new_data_key,
    seal,
    unseal,
)
from shared.db import async_url

__all__ = ["KIND", "AgendaVault", "DecryptionError", "Sealed", "Vault", "keyring_for_migration", "open_keyring",
           "register_for_migrations"]

KIND = "agenda"


@dataclass(frozen=True)
class Sealed:
    """The three `meetings.agenda_*` columns of one agenda."""

    kek_version: int
    wrapped_dek: bytes
    ciphertext: bytes


class Vault:
    """Seals small objects of this service (agendas, questionnaire answers, matching rounds) under the
    sessions keyring, each with its own data key. The wrap binds `subject` (whose object it is); the sealed
    bytes bind `subject` and `kind`, so neither a sealed object nor its wrapped key opens on another row or
    as another kind. Crypto-shredding = forgetting the three columns. Sync: callers run it in a thread."""

    def __init__(self, keyring: KeyEncryptionKeyProvider) -> None:
        self.keyring = keyring

    def seal_bytes(self, subject: str, kind: str, data: bytes) -> Sealed:
        dek = new_data_key()
        wrapped = self.keyring.wrap(dek, record_id=subject)
        return Sealed(wrapped.kek_version, wrapped.blob, seal(dek, StreamContext(record_id=subject, kind=kind), data))

    def open_bytes(self, subject: str, kind: str, kek_version: int | None, wrapped_dek: bytes | None,
                   ciphertext: bytes | None) -> bytes:
        """The plaintext; DecryptionError for anything that does not open (shredded included)."""
        if kek_version is None or wrapped_dek is None or ciphertext is None:
            raise DecryptionError
        dek = self.keyring.unwrap(WrappedKey(kek_version, wrapped_dek), record_id=subject)
        return unseal(dek, StreamContext(record_id=subject, kind=kind), ciphertext)

    def seal_json(self, subject: str, kind: str, value: object) -> Sealed:
        return self.seal_bytes(subject, kind, json.dumps(value, separators=(",", ":"), sort_keys=True).encode())

    def open_json(self, subject: str, kind: str, sealed: Sealed) -> Any:
        data = self.open_bytes(subject, kind, sealed.kek_version, sealed.wrapped_dek, sealed.ciphertext)
        try:
            return json.loads(data)
        except ValueError:
            raise DecryptionError from None


class AgendaVault(Vault):
    """Agendas: the session id is the subject, the kind is "agenda"."""

    def seal(self, session_id: str, text: str) -> Sealed:
        return self.seal_bytes(session_id, KIND, text.encode())

    def open(self, session_id: str, kek_version: int | None, wrapped_dek: bytes | None,
             ciphertext: bytes | None) -> str:
        """The agenda's text; DecryptionError for anything that does not open (shredded included)."""
        try:
            return self.open_bytes(session_id, KIND, kek_version, wrapped_dek, ciphertext).decode()
        except UnicodeDecodeError:
            raise DecryptionError from None


def open_keyring(path: str | Path) -> LocalKeyring:
    keyring_path = Path(path)
    keyring_path.parent.mkdir(parents=True, exist_ok=True)
    return LocalKeyring(keyring_path)


# -- the keyring of migration 0003 -------------------------------------------------------------------
# Migrations run before the app's setup and get only a connection, so an app registers its keyring
# for its database here (create_app) and migration 0003 looks it up by the connection's URL. Without a
# registration (`python -m services.sessions migrate`, alembic -x url=...) the keyring comes from the
# SESSIONS_* environment, as the service itself would read it.

_MIGRATION_KEYRINGS: list[tuple[sa.engine.URL, str]] = []


def register_for_migrations(database_url: str, keyring_path: str) -> None:
    url = sa.engine.make_url(async_url(database_url))
    _MIGRATION_KEYRINGS[:] = [(u, p) for u, p in _MIGRATION_KEYRINGS if u != url] + [(url, keyring_path)]


def keyring_for_migration(bind: Any) -> LocalKeyring:
    url = bind.engine.url
    for registered, path in _MIGRATION_KEYRINGS:
        if registered == url:
            return open_keyring(path)
    return open_keyring(load_settings(Settings, Settings.PREFIX, os.environ).keyring_path)

