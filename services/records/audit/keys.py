"""Ledger keys and what they protect: keyed HMACs of sensitive values, sealed reasons, checkpoint
signatures.

Files in the key directory (0700; files 0600, refused when group/world readable):
    ledger.key                    32 random bytes; HKDF derives the HMAC key and the reason-sealing key
    checkpoint-signing.key        32-byte Ed25519 seed
    checkpoint-signing.pub        its 32-byte public key (what `audit verify` needs)
    checkpoint-signing-*.pub      retired public keys, still accepted by `audit verify`
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from shared.crypto import signing
from shared.crypto.errors import DecryptionError
from shared.crypto.primitives import NONCE_SIZE, Aes256Gcm, hkdf_sha256
from shared.logging import get_logger

log = get_logger("tandem.records.audit")

LEDGER_KEY = "ledger.key"
SIGNING_KEY = "checkpoint-signing.key"
SIGNING_PUB = "checkpoint-signing.pub"
_SEALED_VERSION = b"\x01"
_REASON_AAD = b"tandem-audit-reason/v1\x00"
# Values stored in clear must look like ids ("user:ab12", "record/7", "service:records"): anything
# else (an e-mail, free text, a long string) is stored only as its keyed HMAC.
_ID_LIKE = re.compile(r"^[A-Za-z0-9_.:/#=+-]{1,200}$")

RandomSource = Callable[[int], bytes]


class KeyFileError(Exception):
    """A key file is missing, malformed or readable by others."""


def key_id(material: bytes) -> str:
    return hashlib.sha256(b"tandem-audit-key-id\x00" + material).hexdigest()[:16]


def is_id_like(value: str) -> bool:
    return bool(_ID_LIKE.match(value))


def _read_private(path: Path, size: int) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path.name}: readable by group or others; chmod 600")
    data = path.read_bytes()
    if len(data) != size:
        raise KeyFileError(f"{path.name}: expected {size} bytes")
    return data


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


@dataclass(frozen=True)
class AuditKeys:
    ledger_key: bytes
    signing_seed: bytes
    random: RandomSource = os.urandom

    @classmethod
    def generate(cls, random: RandomSource = os.urandom) -> AuditKeys:
        return cls(random(32), signing.new_seed(random(32)), random)

    @classmethod
    def load(cls, directory: Path, random: RandomSource = os.urandom) -> AuditKeys:
        """Load existing keys; KeyFileError if either private key is missing (never creates one)."""
        for name in (LEDGER_KEY, SIGNING_KEY):
            if not (directory / name).is_file():
                raise KeyFileError(f"{name}: missing in the audit key directory")
        return cls.load_or_create(directory, random)

    @classmethod
    def load_or_create(cls, directory: Path, random: RandomSource = os.urandom) -> AuditKeys:
        """Load the keys, creating missing ones (first start). Never overwrites a key file."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        ledger, seed = directory / LEDGER_KEY, directory / SIGNING_KEY
        if not ledger.exists():
            _write_private(ledger, random(32))
            log.info("audit.key_created", key="ledger")
        if not seed.exists():
            _write_private(seed, signing.new_seed(random(32)))
            log.info("audit.key_created", key="checkpoint-signing")
        keys = cls(_read_private(ledger, 32), _read_private(seed, signing.SEED_SIZE), random)
        pub = directory / SIGNING_PUB
        if not pub.exists():
            pub.write_bytes(keys.public_key)
        return keys

    # -- derived keys ---------------------------------------------------------------------------------

    @cached_property
    def key_id(self) -> str:
        """Which ledger key protected an entry (stored per row, so keys can rotate)."""
        return key_id(self.ledger_key)

    def _derive(self, purpose: bytes) -> bytes:
        return hkdf_sha256(self.ledger_key, salt=b"tandem-audit", info=purpose, length=32)

    @cached_property
    def _hmac_key(self) -> bytes:
        return self._derive(b"hmac/v1")

    @cached_property
    def _pseudonym_key(self) -> bytes:
        return self._derive(b"pseudonym/v1")

    @cached_property
    def _aead(self) -> Aes256Gcm:
        return Aes256Gcm(self._derive(b"reason-seal/v1"))

    # -- protection -----------------------------------------------------------------------------------

    def mac(self, field: str, value: str) -> str:
        """Keyed HMAC-SHA256 of a value, domain-separated by field: equality search without the value."""
        return hmac.new(self._hmac_key, field.encode() + b"\x00" + value.encode("utf-8"), hashlib.sha256).hexdigest()

    def pseudonym(self, value_mac: str) -> str:
        """A reader's stand-in for a value, computed from its stored HMAC (so values kept only as an
        HMAC get one too). Its own derived key: a pseudonym is not the HMAC that exact search uses,
        so a reader cannot test a guessed id against it."""
        return "p:" + hmac.new(self._pseudonym_key, value_mac.encode(), hashlib.sha256).hexdigest()[:24]

    def seal_reason(self, event_id: str, reason: str) -> bytes:
        """AES-256-GCM; the AAD binds the ciphertext to its entry so it cannot be moved to another row."""
        nonce = self.random(NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, reason.encode("utf-8"), _REASON_AAD + event_id.encode())
        return _SEALED_VERSION + nonce + sealed

    def open_reason(self, event_id: str, blob: bytes) -> str:
        """The reason text, or DecryptionError (one opaque error for every failure)."""
        if len(blob) < 1 + NONCE_SIZE + 16 or blob[:1] != _SEALED_VERSION:
            raise DecryptionError
        nonce, body = blob[1:1 + NONCE_SIZE], blob[1 + NONCE_SIZE:]
        plain = self._aead.decrypt(nonce, body, _REASON_AAD + event_id.encode())
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError from None

    # -- checkpoint signatures ------------------------------------------------------------------------

    @cached_property
    def public_key(self) -> bytes:
        return signing.public_key(self.signing_seed)

    @cached_property
    def signing_key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return signing.sign(self.signing_seed, message)


def load_public_keys(directory: Path) -> dict[str, bytes]:
    """Every checkpoint public key in the key directory (current and retired), by key id."""
    keys: dict[str, bytes] = {}
    for path in sorted(directory.glob("checkpoint-signing*.pub")):
        data = path.read_bytes()
        if len(data) == 32:
            keys[key_id(data)] = data
    return keys
