"""reports settings, read from REPORTS_* environment variables."""

from dataclasses import dataclass
from typing import ClassVar

from shared.config import check, setting
from shared.settings import ObjectStoreSettings, ServiceSettings


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings, ObjectStoreSettings):
    PREFIX: ClassVar[str] = "REPORTS"

    port: int = setting(8003, "TCP port of the HTTP server.")
    database_url: str = setting("sqlite:///var/reports.db", "SQLAlchemy URL of the reports database.")
    s3_bucket: str = setting("tandem-reports", "Bucket holding this service's sealed objects.")
    keyring_path: str = setting("var/reports-keyring.json",
                                "Key-encryption keyring of the reports service (its own, not the records').")
    public_subject: str = setting("anonymous",
                                  "`sub` the gateway asserts (with no roles) for the unauthenticated public form.")
    client_hash_header: str = setting("tandem-client-hash",
                                      "Header carrying the gateway's keyed hash of the client IP (never the IP).")
    receipt_header: str = setting("tandem-receipt", "Header carrying an anonymous reporter's receipt.")
    max_text_chars: int = setting(20_000, "Largest concern text, in characters.")
    max_message_chars: int = setting(10_000, "Largest message or internal note, in characters.")
    max_attachments: int = setting(5, "Most attachments on one concern.")
    max_attachment_bytes: int = setting(5 * 1024 * 1024, "Largest attachment, in bytes (before sealing).")
    ack_working_days: int = setting(2, "Working days (Mon-Fri) within which a new concern must be acknowledged.")
    retention_days: int = setting(730, "Days a closed concern is kept before it is crypto-shredded.")
    sweep_interval_s: float = setting(60.0, "Seconds between overdue and retention sweeps (0 disables them).")
    filings_per_hour: int = setting(5, "Concerns one client (IP hash, or account) may file per hour.")
    receipt_attempts_per_hour: int = setting(30, "Receipt look-ups one client (IP hash) may make per hour.")
    receipt_attempts_per_id_per_hour: int = setting(10, "Look-ups per receipt id per hour (guessing one receipt).")
    argon2_time_cost: int = setting(3, "argon2id iterations for receipt hashes.")
    argon2_memory_kib: int = setting(65_536, "argon2id memory for receipt hashes, in KiB.")
    argon2_parallelism: int = setting(2, "argon2id lanes for receipt hashes.")

    def __post_init__(self) -> None:
        super().__post_init__()
        p = self.PREFIX
        check(bool(self.keyring_path), f"{p}_KEYRING_PATH", "must be set")
        check(bool(self.public_subject), f"{p}_PUBLIC_SUBJECT", "must be set")
        check(100 <= self.max_text_chars <= 1_000_000, f"{p}_MAX_TEXT_CHARS", "must be 100-1000000")
        check(100 <= self.max_message_chars <= 1_000_000, f"{p}_MAX_MESSAGE_CHARS", "must be 100-1000000")
        check(0 <= self.max_attachments <= 20, f"{p}_MAX_ATTACHMENTS", "must be 0-20")
        check(1024 <= self.max_attachment_bytes <= 50 * 1024 * 1024, f"{p}_MAX_ATTACHMENT_BYTES",
              "must be 1 KiB-50 MiB")
        check(1 <= self.ack_working_days <= 30, f"{p}_ACK_WORKING_DAYS", "must be 1-30")
        check(1 <= self.retention_days <= 36_500, f"{p}_RETENTION_DAYS", "must be 1-36500")
        check(self.sweep_interval_s >= 0, f"{p}_SWEEP_INTERVAL_S", "must be >= 0")
        check(self.filings_per_hour >= 1, f"{p}_FILINGS_PER_HOUR", "must be at least 1")
        check(self.receipt_attempts_per_hour >= 1, f"{p}_RECEIPT_ATTEMPTS_PER_HOUR", "must be at least 1")
        check(self.receipt_attempts_per_id_per_hour >= 1, f"{p}_RECEIPT_ATTEMPTS_PER_ID_PER_HOUR",
              "must be at least 1")
        check(self.argon2_time_cost >= 1, f"{p}_ARGON2_TIME_COST", "must be at least 1")
        check(self.argon2_memory_kib >= 8, f"{p}_ARGON2_MEMORY_KIB", "must be at least 8")
        check(self.argon2_parallelism >= 1, f"{p}_ARGON2_PARALLELISM", "must be at least 1")

    @property
    def request_max_body_size(self) -> int:
        """Whole request cap: base64 attachments (4/3) plus the text, with headroom for JSON."""
        return (self.max_attachments * self.max_attachment_bytes * 4) // 3 + 4 * self.max_text_chars + 64 * 1024
