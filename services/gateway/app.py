"""Application factory of the gateway service."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from litestar import Litestar

import services.gateway
from services.gateway import all_tables  # noqa: F401 - registers every table on the metadata
from services.gateway.accounts.controllers import ROUTES as ACCOUNT_ROUTES
from services.gateway.adapters.db import outbox
from services.gateway.auth.dependencies import DEPENDENCIES
from services.gateway.browser.controllers import ROUTES as BROWSER_ROUTES
from services.gateway.config import Settings
from services.gateway.context import CONTEXT, GatewayContext, context_with_clock
from services.gateway.federation.controllers import ROUTES as FEDERATION_ROUTES
from services.gateway.inbox.controllers import ROUTES as INBOX_ROUTES
from services.gateway.inbox.service import STREAMS as INBOX_STREAMS
from services.gateway.oauth.controllers import ROUTES as OAUTH_ROUTES
from services.gateway.people.controllers import ROUTES as PEOPLE_ROUTES
from services.gateway.proxy.app import ProxyFront
from services.gateway.web import ROUTES as WEB_ROUTES
from services.gateway.web import serve_not_found_page
from shared.clock import EpochClock
from shared.service import ConsumerSpec, build_app

MIGRATIONS = Path(__file__).parent / "migrations"



def create_app(settings: Settings | None = None, *, clock: EpochClock = time.time,
               run_consumers: bool = True) -> Litestar:
    """`run_consumers=False` leaves the inbox consumer off (tests that do not need it stop faster)."""
    settings = settings or Settings()
    # aiosqlite logs every statement with its parameters at DEBUG (e-mail addresses, sealed secrets):
    # never let that through, whatever the configured level.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    consumers = [ConsumerSpec[GatewayContext]("gateway", INBOX_STREAMS, lambda _runtime, ctx: ctx.inbox.handler())]
    app = build_app(
        name="gateway",
        settings=settings,
        route_handlers=[*BROWSER_ROUTES, *ACCOUNT_ROUTES, *OAUTH_ROUTES, *INBOX_ROUTES, *PEOPLE_ROUTES,
                        *FEDERATION_ROUTES, *WEB_ROUTES],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        context=CONTEXT if clock is time.time else context_with_clock(clock),
        consumers=consumers if run_consumers else [],
        dependencies=DEPENDENCIES,
        authenticate=False,
        metrics_token=settings.metrics_token,
        description=services.gateway.__doc__ or "",
        on_app_init=[serve_not_found_page],  # browsers get an HTML page for an unknown address
    )
    app.asgi_handler = ProxyFront(app.asgi_handler, app.state.metrics)  # type: ignore[assignment]  # /api/...
    return app
