"""Sealing edge of the reports service: every stored text and attachment goes through here.

Each object gets its own data key (DEK), wrapped by the reports keyring (KEK); the additional
authenticated data binds the object's id and kind, so a sealed column copied onto another row, or
a note's ciphertext presented as a message, does not open. Crypto-shredding = dropping the wrapped
DEK (and the ciphertext with it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import msgspec

from shared.crypto import (
    DecryptionError,
    KeyEncryptionKeyProvider,
    StreamContext,
    WrappedKey,
    new_data_key,
    seal,
    unseal,
)
from shared.objectstore import ObjectStore

__all__ = ["DecryptionError", "Sealed", "Vault", "new_id"]


def new_id() -> str:
    """128 random bits, hex: ids of reports, entries and objects say nothing about anyone."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Sealed:
    kek_version: int
    wrapped_dek: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class Vault:
    keyring: KeyEncryptionKeyProvider
    store: ObjectStore
    index_key: bytes = field(repr=False)  # a secret: never in a repr (logs, tracebacks)

    def tag(self, purpose: str, value: str) -> str:
        """Blind index: HMAC-SHA256 of `value` under the index key, per purpose. Equal values give
        equal tags (so rows can be found), but a tag says nothing without the key."""
        return hmac.new(self.index_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def seal_json(self, object_id: str, kind: str, value: object) -> Sealed:
        return self.seal_bytes(object_id, kind, msgspec.json.encode(value))

    def seal_bytes(self, object_id: str, kind: str, plaintext: bytes) -> Sealed:
        dek = new_data_key()
        wrapped = self.keyring.wrap(dek, record_id=object_id)
        ciphertext = seal(dek, StreamContext(record_id=object_id, kind=kind), plaintext)
        return Sealed(wrapped.kek_version, wrapped.blob, ciphertext)

    def seal_parts(self, object_id: str, parts: dict[str, bytes]) -> tuple[int, bytes, dict[str, bytes]]:
        """Several parts of one object (an attachment and its metadata) under one DEK, each bound to its kind."""
        dek = new_data_key()
        wrapped = self.keyring.wrap(dek, record_id=object_id)
        sealed = {kind: seal(dek, StreamContext(record_id=object_id, kind=kind), data) for kind, data in parts.items()}
        return wrapped.kek_version, wrapped.blob, sealed

    def open_bytes(self, object_id: str, kind: str, kek_version: int | None, wrapped_dek: bytes | None,
                   ciphertext: bytes | None) -> bytes:
        """Raises DecryptionError for anything that does not open, including shredded objects."""
        if kek_version is None or wrapped_dek is None or ciphertext is None:
            raise DecryptionError
        dek = self.keyring.unwrap(WrappedKey(kek_version, wrapped_dek), record_id=object_id)
        return unseal(dek, StreamContext(record_id=object_id, kind=kind), ciphertext)

    def open_json(self, object_id: str, kind: str, kek_version: int | None, wrapped_dek: bytes | None,
                  ciphertext: bytes | None, type_: type[msgspec.Struct]) -> msgspec.Struct:
        return msgspec.json.decode(self.open_bytes(object_id, kind, kek_version, wrapped_dek, ciphertext),
                                   type=type_)

    async def put_object(self, object_key: str, ciphertext: bytes) -> None:
        await asyncio.to_thread(self.store.put, object_key, ciphertext)

    async def get_object(self, object_key: str) -> bytes:
        return await asyncio.to_thread(self.store.get, object_key)

    async def delete_object(self, object_key: str) -> None:
        await asyncio.to_thread(self.store.delete, object_key)
