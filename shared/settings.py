"""Settings every service shares; each service subclasses `ServiceSettings` with its own prefix."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import ClassVar

from shared.config import check, setting


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """Common settings. A subclass sets `PREFIX` and overrides the defaults that differ."""

    PREFIX: ClassVar[str] = "TANDEM"

    host: str = setting("127.0.0.1", "Address the HTTP server binds to.")
    port: int = setting(8000, "TCP port of the HTTP server.")
    database_url: str = setting(
        "sqlite:///var/service.db",
        "SQLAlchemy URL of this service's own database (sqlite:///path or postgresql://...).",
    )
    redis_url: str = setting("redis://127.0.0.1:6380/0", "Redis URL for the event bus (Streams).")
    jwks_url: str = setting(
        "http://127.0.0.1:8000/internal/assertion-jwks",
        "Where the gateway publishes the public keys of its identity assertions.",
    )
    jwks_file: str = setting("", "A JWKS file to use instead of fetching JWKS_URL (operators, tests).")
    assertion_issuer: str = setting("tandem-gateway", "Expected `iss` of identity assertions.")
    migrate_on_start: bool = setting(True, "Apply database migrations when the service starts.")
    trusted_proxies: tuple[str, ...] = setting(
        (), "Addresses of reverse proxies whose X-Forwarded-For is trusted for the client address (empty: none).")
    log_level: str = setting("info", "Log level: debug, info, warning, error.")
    log_json: bool = setting(True, "Emit JSON log lines (false: human-readable console lines).")
    instance_id: str = setting("", "Name of this instance in consumer groups (default: host-pid).")
    bus_max_deliveries: int = setting(5, "Deliveries before an event goes to the dead-letter stream.")
    bus_claim_idle_ms: int = setting(30_000, "Idle time after which a pending event is reclaimed.")

    def __post_init__(self) -> None:
        prefix = type(self).PREFIX
        check(0 < self.port < 65536, f"{prefix}_PORT", f"must be 1-65535, got {self.port}")
        check(
            self.database_url.startswith(("sqlite", "postgresql", "postgres://")),
            f"{prefix}_DATABASE_URL",
            "must start with sqlite:// or postgresql://",
        )
        check(self.redis_url.startswith(("redis://", "rediss://", "unix://")), f"{prefix}_REDIS_URL",
              "must be a redis:// or rediss:// URL")
        check(self.log_level.lower() in {"debug", "info", "warning", "error"}, f"{prefix}_LOG_LEVEL",
              "must be one of debug, info, warning, error")
        check(self.bus_max_deliveries >= 1, f"{prefix}_BUS_MAX_DELIVERIES", "must be at least 1")
        check(self.bus_claim_idle_ms >= 10, f"{prefix}_BUS_CLAIM_IDLE_MS", "must be at least 10")

    @property
    def consumer_name(self) -> str:
        return self.instance_id or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, kw_only=True)
class ObjectStoreSettings:
    """S3-compatible object storage (SeaweedFS locally, MinIO or AWS S3 in production)."""

    s3_endpoint: str = setting("127.0.0.1:8333", "S3 endpoint host:port (no scheme).")
    s3_access_key: str = setting("tandem", "S3 access key.", secret=True)
    s3_secret_key: str = setting("tandem-local-secret", "S3 secret key.", secret=True)
    s3_secure: bool = setting(False, "Use HTTPS to reach the S3 endpoint.")
    s3_region: str = setting("us-east-1", "S3 region name.")
    s3_connect_timeout_s: float = setting(
        3.0, "Seconds to connect to the S3 endpoint, and longest wait for it to take more of a request body.")
    s3_read_timeout_s: float = setting(
        15.0, "Longest wait for the S3 endpoint's next byte of an answer (a frozen store fails after this).")
    s3_retries: int = setting(2, "Retries of an S3 request that could not connect or got a 5xx (never of a timeout).")
