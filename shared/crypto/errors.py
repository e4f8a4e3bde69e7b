"""Errors of shared.crypto: one opaque error for every failure to open or unwrap."""

from __future__ import annotations


class DecryptionError(Exception):
    """Ciphertext, header or wrapped key could not be opened.

    Deliberately opaque: a bit flip, truncation, reordering, a spliced segment, a swapped header,
    a wrong key, record id or kind, or a retired key version all look the same to the caller, so
    the error cannot be used as an oracle. The specific cause goes to a debug log (never key
    material or plaintext).
    """

    def __init__(self, message: str = "decryption failed") -> None:
        super().__init__(message)


class KeyringError(Exception):
    """A keyring operation was refused (unsafe file mode, unknown version, retiring the primary...)."""
