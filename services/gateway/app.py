"""Application factory of the gateway service."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

import services.gateway
from services.gateway.adapters.db import outbox
from services.gateway.config import Settings
from shared.service import build_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    return build_app(
        name="gateway",
        settings=settings,
        route_handlers=[],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        authenticate=False,
        description=services.gateway.__doc__ or "",
    )
