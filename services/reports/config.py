"""reports settings, read from REPORTS_* environment variables."""

from dataclasses import dataclass
from typing import ClassVar

from shared.config import setting
from shared.settings import ObjectStoreSettings, ServiceSettings


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings, ObjectStoreSettings):
    PREFIX: ClassVar[str] = "REPORTS"

    port: int = setting(8003, "TCP port of the HTTP server.")
    database_url: str = setting("sqlite:///var/reports.db", "SQLAlchemy URL of the reports database.")
    s3_bucket: str = setting("tandem-reports", "Bucket holding this service's sealed objects.")
