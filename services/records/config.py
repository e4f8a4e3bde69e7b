"""records settings, read from RECORDS_* environment variables."""

from dataclasses import dataclass
from typing import ClassVar

from shared.config import setting
from shared.settings import ObjectStoreSettings, ServiceSettings


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings, ObjectStoreSettings):
    PREFIX: ClassVar[str] = "RECORDS"

    port: int = setting(8002, "TCP port of the HTTP server.")
    database_url: str = setting("sqlite:///var/records.db", "SQLAlchemy URL of the records database.")
    s3_bucket: str = setting("tandem-records", "Bucket holding this service's sealed objects.")
