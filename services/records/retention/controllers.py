"""Retention routes: the public key that verifies erasure receipts, and the live policy (admins)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from services.records.core.deps import records_of
from shared.http import require_roles
from shared.service import Runtime


class RetentionPolicy(msgspec.Struct, frozen=True):
    """The running service's retention settings (no record data)."""

    recording_retention_days: int  # RECORDS_RECORDING_RETENTION_DAYS: from capture
    note_retention_days: int  # RECORDS_NOTE_RETENTION_DAYS: after the pairing ends
    sweep_interval_s: float  # RECORDS_SWEEP_INTERVAL_S: 0 = no background sweeper
    lifecycle_backstop_days: int  # RECORDS_LIFECYCLE_BACKSTOP_DAYS: 0 = no S3 lifecycle backstop
    dispute_window_hours: int
    dispute_max_window_hours: int
    dispute_break_glass_hours: int


class RetentionController(Controller):
    path = "/retention"
    tags = ["retention"]

    @get("/receipt-jwks", summary="Public key (JWKS) verifying the signatures of erasure receipts")
    async def receipt_jwks(self, runtime: NamedDependency[Runtime]) -> dict[str, Any]:
        return records_of(runtime).signer.public_jwks()

    @get("/policy", guards=[require_roles("admin")], summary="The live retention and dispute-window settings (admins)")
    async def policy(self, runtime: NamedDependency[Runtime]) -> RetentionPolicy:
        s = records_of(runtime).settings
        return RetentionPolicy(
            recording_retention_days=s.recording_retention_days, note_retention_days=s.note_retention_days,
            sweep_interval_s=s.sweep_interval_s, lifecycle_backstop_days=s.lifecycle_backstop_days,
            dispute_window_hours=s.dispute_window_hours, dispute_max_window_hours=s.dispute_max_window_hours,
            dispute_break_glass_hours=s.dispute_break_glass_hours)
