"""The retention policy: how long records are kept, and nowhere else (RECORDS_*_RETENTION_DAYS).

Recordings are kept for a period from capture; notes for a period after their pairing ends (until
then they have no expiry). The lifecycle is told the resulting dates; the sweeper erases what is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.records.config import Settings
from services.records.retention.schemas import RetentionPolicy


@dataclass(frozen=True)
class Policy:
    settings: Settings  # read at each use: the live settings

    def recording_retain_until(self, captured_at: datetime) -> datetime:
        return captured_at + timedelta(days=self.settings.recording_retention_days)

    def note_retain_until(self, pairing_ended_at: datetime) -> datetime:
        return pairing_ended_at + timedelta(days=self.settings.note_retention_days)

    def view(self) -> RetentionPolicy:
        """The running service's retention settings, with the dispute windows (no record data)."""
        s = self.settings
        return RetentionPolicy(
            recording_retention_days=s.recording_retention_days, note_retention_days=s.note_retention_days,
            sweep_interval_s=s.sweep_interval_s, lifecycle_backstop_days=s.lifecycle_backstop_days,
            dispute_window_hours=s.dispute_window_hours, dispute_max_window_hours=s.dispute_max_window_hours,
            dispute_break_glass_hours=s.dispute_break_glass_hours)
