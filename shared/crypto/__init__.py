"""Tandem's encryption: envelope keys and streaming AEAD (docs/encryption.md is the spec).

Callers use these intent-named functions only; shared/crypto/primitives.py is the one module that
touches `cryptography.hazmat`.
"""

from shared.crypto.envelope import (
    WRAPPED_BLOB_SIZE,
    KekVersion,
    KeyEncryptionKeyProvider,
    WrappedKey,
    new_data_key,
    rewrap,
    unwrap_data_key,
    wrap_data_key,
)
from shared.crypto.errors import DecryptionError, KeyringError
from shared.crypto.format import (
    DEFAULT_SEGMENT_SIZE,
    FORMAT_VERSION,
    MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
    SEGMENT_OVERHEAD,
    Header,
    StreamContext,
    ciphertext_size,
    header_size,
    parse_header,
    plaintext_size,
)
from shared.crypto.keyring import LocalKeyring
from shared.crypto.ranges import iter_range, open_range
from shared.crypto.stream import StreamSealer, iter_unseal, seal, unseal

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "FORMAT_VERSION",
    "MAX_SEGMENT_SIZE",
    "MIN_SEGMENT_SIZE",
    "SEGMENT_OVERHEAD",
    "WRAPPED_BLOB_SIZE",
    "DecryptionError",
    "Header",
    "KekVersion",
    "KeyEncryptionKeyProvider",
    "KeyringError",
    "LocalKeyring",
    "StreamContext",
    "StreamSealer",
    "WrappedKey",
    "ciphertext_size",
    "header_size",
    "iter_range",
    "iter_unseal",
    "new_data_key",
    "open_range",
    "parse_header",
    "plaintext_size",
    "rewrap",
    "seal",
    "unseal",
    "unwrap_data_key",
    "wrap_data_key",
]
