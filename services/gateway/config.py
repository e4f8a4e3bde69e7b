"""gateway settings, read from GATEWAY_* environment variables."""

from dataclasses import dataclass
from typing import ClassVar

from shared.config import setting
from shared.settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings):
    PREFIX: ClassVar[str] = "GATEWAY"

    port: int = setting(8000, "TCP port of the HTTP server.")
    database_url: str = setting("sqlite:///var/gateway.db", "SQLAlchemy URL of the gateway database.")
