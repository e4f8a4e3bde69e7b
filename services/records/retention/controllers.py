"""Retention routes: the public key that verifies erasure receipts, and the live policy (admins)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency

from services.records.retention.policy import Policy
from services.records.retention.schemas import RetentionPolicy
from services.records.retention.service import Retention
from shared.http import require_roles


class RetentionController(Controller):
    path = "/retention"
    tags = ["retention"]

    @get("/receipt-jwks", summary="Public key (JWKS) verifying the signatures of erasure receipts")
    async def receipt_jwks(self, retention: NamedDependency[Retention]) -> dict[str, Any]:
        return retention.receipt_jwks()

    @get("/policy", guards=[require_roles("admin")], summary="The live retention and dispute-window settings (admins)")
    async def policy(self, policy: NamedDependency[Policy]) -> RetentionPolicy:
        return policy.view()
