"""Wire types of the retention routes."""

from __future__ import annotations

import msgspec


class RetentionPolicy(msgspec.Struct, frozen=True):
    """The running service's retention settings (no record data)."""

    recording_retention_days: int  # RECORDS_RECORDING_RETENTION_DAYS: from capture
    note_retention_days: int  # RECORDS_NOTE_RETENTION_DAYS: after the pairing ends
    sweep_interval_s: float  # RECORDS_SWEEP_INTERVAL_S: 0 = no background sweeper
    lifecycle_backstop_days: int  # RECORDS_LIFECYCLE_BACKSTOP_DAYS: 0 = no S3 lifecycle backstop
    dispute_window_hours: int
    dispute_max_window_hours: int
    dispute_break_glass_hours: int
