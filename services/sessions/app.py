"""Application factory of the sessions service."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

import services.sessions
from services.sessions.adapters.db import outbox
from services.sessions.config import Settings
from shared.service import build_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    return build_app(
        name="sessions",
        settings=settings,
        route_handlers=[],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        authenticate=True,
        description=services.sessions.__doc__ or "",
    )
