"""sessions settings, read from SESSIONS_* environment variables."""

from dataclasses import dataclass
from typing import ClassVar

from shared.config import setting
from shared.settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings):
    PREFIX: ClassVar[str] = "SESSIONS"

    port: int = setting(8001, "TCP port of the HTTP server.")
    database_url: str = setting("sqlite:///var/sessions.db", "SQLAlchemy URL of the sessions database.")
