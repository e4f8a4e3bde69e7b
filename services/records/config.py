"""records settings, read from RECORDS_* environment variables."""

from dataclasses import dataclass
from typing import ClassVar

from shared.config import check, setting
from shared.objectstore import MIN_PART_SIZE
from shared.settings import ObjectStoreSettings, ServiceSettings


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings, ObjectStoreSettings):
    PREFIX: ClassVar[str] = "RECORDS"

    port: int = setting(8002, "TCP port of the HTTP server.")
    database_url: str = setting("sqlite:///var/records.db", "SQLAlchemy URL of the records database.")
    s3_bucket: str = setting("tandem-records", "Bucket holding this service's sealed objects.")
    keyring_path: str = setting("var/keyring.json",
                                "Local KEK keyring file (created 0600); the receipt signing key sits next to it.")
    segment_size: int = setting(65536, "Plaintext bytes per sealed segment of new objects (4 KiB - 4 MiB).")
    upload_part_size: int = setting(MIN_PART_SIZE, "S3 multipart part size for recording uploads (>= 5 MiB).")
    upload_parallel_parts: int = setting(3, "Multipart parts uploaded at once per recording (memory: (n + 1) parts).")
    upload_give_up_s: float = setting(
        5.0, "Once a recording upload failed, the longest time spent cleaning up before answering 503.")
    max_recording_bytes: int = setting(16 * 1024**3, "Largest recording accepted by the ingest endpoint.")
    max_note_bytes: int = setting(64 * 1024, "Largest note text in UTF-8 bytes.")
    max_consent_header_bytes: int = setting(8192, "Largest `tandem-recording` metadata header (base64url JSON).")
    recording_retention_days: int = setting(90, "Recordings are kept this many days from capture.")
    note_retention_days: int = setting(365, "Notes are kept this many days after their pairing ends.")
    playback_window_bytes: int = setting(1024 * 1024,
                                         "Plaintext bytes decrypted per step when serving a recording.")
    sweep_interval_s: float = setting(300.0, "Seconds between retention sweeps (0 disables the background sweeper).")
    sweep_batch: int = setting(50, "Records claimed per sweep round.")
    sweep_lease_s: int = setting(600, "Seconds a claimed record stays leased to one sweeper instance.")
    lifecycle_backstop_days: int = setting(
        0, "If > 0, install an S3 lifecycle rule deleting objects older than this (a backstop; best effort).")
    audit_key_dir: str = setting("var/keys/audit", "Audit ledger keys (HMAC, reason sealing, Ed25519 checkpoint "
                                 "signing); created 0600 on first start when missing.")
    audit_bucket: str = setting("tandem-audit", "Bucket (object lock) holding signed audit checkpoints.")
    audit_checkpoint_every: int = setting(1000, "Sign a checkpoint after this many new audit entries.")
    audit_checkpoint_interval_s: float = setting(
        300.0, "Seconds between checkpoint attempts when entries are pending (0 disables the background task).")
    audit_lock_days: int = setting(2557, "COMPLIANCE object-lock retention of each checkpoint object, in days.")
    dispute_window_hours: int = setting(24, "Default access window an approved dispute grants, in hours.")
    dispute_max_window_hours: int = setting(168, "Longest access window a dispute approval may grant, in hours.")
    dispute_break_glass_hours: int = setting(4, "Access window of a break-glass grant, in hours.")
    dispute_notify_accessor_id: bool = setting(
        False, "Put the accessing admin's id in record.accessed (default: the role only).")

    def __post_init__(self) -> None:
        super().__post_init__()
        check(4096 <= self.segment_size <= 4 * 1024 * 1024, "RECORDS_SEGMENT_SIZE", "must be 4096..4194304")
        check(self.upload_part_size >= MIN_PART_SIZE, "RECORDS_UPLOAD_PART_SIZE", "must be at least 5 MiB")
        check(1 <= self.upload_parallel_parts <= 8, "RECORDS_UPLOAD_PARALLEL_PARTS", "must be 1..8")
        check(0 < self.upload_give_up_s <= 300, "RECORDS_UPLOAD_GIVE_UP_S", "must be in (0, 300]")
        check(self.max_recording_bytes > 0, "RECORDS_MAX_RECORDING_BYTES", "must be positive")
        check(0 < self.max_note_bytes <= 1024 * 1024, "RECORDS_MAX_NOTE_BYTES", "must be 1..1048576")
        check(self.max_consent_header_bytes >= 256, "RECORDS_MAX_CONSENT_HEADER_BYTES", "must be at least 256")
        check(self.recording_retention_days >= 1, "RECORDS_RECORDING_RETENTION_DAYS", "must be at least 1")
        check(self.note_retention_days >= 1, "RECORDS_NOTE_RETENTION_DAYS", "must be at least 1")
        check(self.playback_window_bytes >= self.segment_size, "RECORDS_PLAYBACK_WINDOW_BYTES",
              "must be at least one segment")
        check(self.sweep_interval_s >= 0, "RECORDS_SWEEP_INTERVAL_S", "must be >= 0")
        check(self.sweep_batch >= 1, "RECORDS_SWEEP_BATCH", "must be at least 1")
        check(self.sweep_lease_s >= 10, "RECORDS_SWEEP_LEASE_S", "must be at least 10")
        check(self.lifecycle_backstop_days >= 0, "RECORDS_LIFECYCLE_BACKSTOP_DAYS", "must be >= 0")
        check(self.audit_checkpoint_every >= 1, "RECORDS_AUDIT_CHECKPOINT_EVERY", "must be at least 1")
        check(self.audit_checkpoint_interval_s >= 0, "RECORDS_AUDIT_CHECKPOINT_INTERVAL_S", "must be >= 0")
        check(self.audit_lock_days >= 1, "RECORDS_AUDIT_LOCK_DAYS", "must be at least 1")
        check(1 <= self.dispute_max_window_hours <= 168, "RECORDS_DISPUTE_MAX_WINDOW_HOURS", "must be 1..168")
        check(1 <= self.dispute_window_hours <= self.dispute_max_window_hours, "RECORDS_DISPUTE_WINDOW_HOURS",
              "must be 1..RECORDS_DISPUTE_MAX_WINDOW_HOURS")
        check(1 <= self.dispute_break_glass_hours <= self.dispute_max_window_hours,
              "RECORDS_DISPUTE_BREAK_GLASS_HOURS", "must be 1..RECORDS_DISPUTE_MAX_WINDOW_HOURS")
