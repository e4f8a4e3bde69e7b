"""Signed erasure receipts: canonical JSON without personal data, its SHA-256 digest, and an Ed25519
signature (JWS compact, detached payload = the digest) made with a key kept next to the keyring.

Signing goes through joserfc (which uses `cryptography` underneath), so no hazmat import here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import OKPKey


def canonical(receipt: dict[str, Any]) -> bytes:
    return json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(receipt: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(receipt)).hexdigest()


class ReceiptSigner:
    def __init__(self, key: OKPKey) -> None:
        self.key = key

    @classmethod
    def load_or_create(cls, path: Path) -> ReceiptSigner:
        """The signing key lives in a 0600 JWK file; created on first use."""
        if path.exists():
            return cls(OKPKey.import_key(json.loads(path.read_text())))
        path.parent.mkdir(parents=True, exist_ok=True)
        key = OKPKey.generate_key("Ed25519", parameters={"use": "sig"})
        key.ensure_kid()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(key.as_dict(private=True), fh)
        return cls(key)

    @property
    def kid(self) -> str:
        return self.key.kid or ""

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def sign(self, hex_digest: str) -> str:
        """Compact JWS (EdDSA/Ed25519) whose payload is the receipt digest."""
        return jws.serialize_compact({"alg": "Ed25519", "kid": self.kid}, hex_digest.encode(), self.key,
                                     algorithms=["Ed25519"])

    def verify(self, signature: str, hex_digest: str) -> bool:
        try:
            obj = jws.deserialize_compact(signature, self.key, algorithms=["Ed25519"])
        except Exception:  # noqa: BLE001 - any failure means "not a valid signature"
            return False
        return obj.payload == hex_digest.encode()
