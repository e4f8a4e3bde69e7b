"""Signed erasure receipts: canonical JSON without personal data, its SHA-256 digest, and an Ed25519
signature over the 32 digest bytes (shared.crypto.signing), made with a key kept next to the keyring.

`record.expired` carries `digest` (hex) and `signature` (base64url, no padding); the receipt names the
signing key id (`signer`), and `GET /retention/receipt-jwks` publishes the public key as an OKP JWK.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from shared.crypto.signing import SEED_SIZE, new_seed, public_key, sign, verify


def canonical(receipt: dict[str, Any]) -> bytes:
    return json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(receipt: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(receipt)).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class ReceiptSigner:
    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self.public = public_key(seed)
        self.kid = hashlib.sha256(self.public).hexdigest()[:16]

    @classmethod
    def load_or_create(cls, path: Path) -> ReceiptSigner:
        """The signing seed lives in a 0600 file; created on first use."""
        if path.exists():
            raw = json.loads(path.read_text())
            return cls(base64.b64decode(raw["seed"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = new_seed(os.urandom(SEED_SIZE))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"format": "tandem-receipt-key/1", "seed": base64.b64encode(seed).decode()}, fh)
        return cls(seed)

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64(self.public), "kid": self.kid,
                          "use": "sig", "alg": "Ed25519"}]}

    def sign(self, hex_digest: str) -> str:
        return _b64(sign(self._seed, bytes.fromhex(hex_digest)))

    def verify(self, signature: str, hex_digest: str) -> bool:
        try:
            raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            return verify(self.public, bytes.fromhex(hex_digest), raw)
        except (binascii.Error, ValueError):
            return False
