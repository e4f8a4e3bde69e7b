"""Application factory of the reports service."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

import services.reports
from services.reports.adapters.db import outbox
from services.reports.cases.controllers import CasesController
from services.reports.concerns.controllers import ConcernsController
from services.reports.config import Settings
from services.reports.context import ReportsContext, context
from services.reports.officers import service as officers
from shared.clock import Clock, utcnow
from shared.service import ConsumerSpec, build_app

MIGRATIONS = Path(__file__).parent / "migrations"


async def _check_store(ctx: ReportsContext) -> None:
    await ctx.store.aping()


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow) -> Litestar:
    """`clock` tells the time to every feature (tests pass one they move)."""
    settings = settings or Settings()
    return build_app(
        name="reports",
        settings=settings,
        route_handlers=[ConcernsController, CasesController],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        context=context(clock),
        consumers=[ConsumerSpec(officers.GROUP, officers.STREAMS, officers.handler)],
        readiness={"object_store": _check_store},
        description=services.reports.__doc__ or "",
        request_max_body_size=settings.request_max_body_size,
    )
