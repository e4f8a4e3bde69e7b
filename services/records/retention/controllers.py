"""Retention routes: the public key that verifies erasure receipts."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency

from services.records.core.deps import records_of
from shared.service import Runtime


class RetentionController(Controller):
    path = "/retention"
    tags = ["retention"]

    @get("/receipt-jwks", summary="Public key (JWKS) verifying the signatures of erasure receipts")
    async def receipt_jwks(self, runtime: NamedDependency[Runtime]) -> dict[str, Any]:
        return records_of(runtime).signer.public_jwks()
