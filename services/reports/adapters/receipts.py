"""Receipts for anonymous reporters: `<lookup id>.<secret>`, shown once, never stored.

The lookup id (96 bits) finds the row; the secret (192 bits) is checked against its argon2id hash.
An unknown lookup id is checked against a dummy hash made with the same parameters, so a guess
costs the same work and ends in the same error whether or not the id exists.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_RECEIPT = re.compile(r"^([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{32})$")


@dataclass(frozen=True)
class Receipt:
    lookup_id: str
    secret: str

    def __str__(self) -> str:
        return f"{self.lookup_id}.{self.secret}"


def new_receipt() -> Receipt:
    return Receipt(secrets.token_urlsafe(12), secrets.token_urlsafe(24))


def parse_receipt(raw: str | None) -> Receipt | None:
    """None for anything malformed (the caller still runs a dummy verification)."""
    match = _RECEIPT.match((raw or "").strip())
    return Receipt(match.group(1), match.group(2)) if match else None


class ReceiptBook:
    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        # A real hash of a secret nobody knows: unknown ids verify against it (same cost, same failure).
        self.dummy_hash = hasher.hash(secrets.token_urlsafe(24))

    async def hash(self, receipt: Receipt) -> str:
        return await asyncio.to_thread(self.hasher.hash, receipt.secret)

    async def verify(self, stored_hash: str | None, secret: str) -> bool:
        """True only if `secret` matches `stored_hash`; None or garbage verifies against the dummy hash."""
        target = stored_hash or self.dummy_hash
        try:
            return await asyncio.to_thread(self.hasher.verify, target, secret) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False
