"""Application factory of the gateway service."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from litestar import Litestar

import services.gateway
from services.gateway import all_tables  # noqa: F401 - registers every table on the metadata
from services.gateway.accounts.controllers import ROUTES as ACCOUNT_ROUTES
from services.gateway.accounts.credentials import Passwords
from services.gateway.accounts.service import Accounts
from services.gateway.adapters.db import outbox
from services.gateway.browser.controllers import ROUTES as BROWSER_ROUTES
from services.gateway.browser.sessions import BrowserSessions
from services.gateway.config import Settings
from services.gateway.core import Gateway
from services.gateway.deps import DEPENDENCIES
from services.gateway.federation.controllers import ROUTES as FEDERATION_ROUTES
from services.gateway.federation.service import Federation
from services.gateway.inbox.controllers import ROUTES as INBOX_ROUTES
from services.gateway.inbox.service import STREAMS as INBOX_STREAMS
from services.gateway.inbox.service import Inbox
from services.gateway.keys.service import KeyRing, Keys, Sealer
from services.gateway.oauth.controllers import ROUTES as OAUTH_ROUTES
from services.gateway.oauth.service import OAuthServer
from services.gateway.people.controllers import ROUTES as PEOPLE_ROUTES
from services.gateway.proxy.app import ProxyFront
from services.gateway.proxy.fastauth import FastAuth
from services.gateway.proxy.live import LiveSockets
from services.gateway.proxy.ratelimit import RateLimiter
from services.gateway.proxy.upstream import UpstreamPool
from services.gateway.revocation import AuthCache
from services.gateway.web import ROUTES as WEB_ROUTES
from shared.bus import Handler
from shared.service import ConsumerSpec, Runtime, build_app

MIGRATIONS = Path(__file__).parent / "migrations"
ASSERTION_LEEWAY_S = 5


def build_gateway(runtime: Runtime, settings: Settings, clock: Callable[[], float]) -> Gateway:
    """Wire the gateway's parts on top of the shared runtime (also used by the CLI)."""
    sealer = Sealer(settings.key_encryption_key, settings.previous_key_encryption_keys)
    assertion = KeyRing(runtime.engine, "assertion", sealer, clock=clock, rotate_s=settings.assertion_rotate_s,
                        publish_ahead_s=settings.key_publish_ahead_s,
                        retain_s=settings.assertion_lifetime_s + ASSERTION_LEEWAY_S + 60)
    token = KeyRing(runtime.engine, "token", sealer, clock=clock, rotate_s=settings.token_rotate_s,
                    publish_ahead_s=settings.key_publish_ahead_s,
                    retain_s=max(settings.access_token_lifetime_s, settings.id_token_lifetime_s) + 60)
    keys = Keys(assertion, token, settings.key_check_interval_s)
    passwords = Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib,
                          parallelism=settings.argon2_parallelism)
    assert runtime.outbox is not None  # noqa: S101 - create_app always passes the outbox table
    accounts = Accounts(runtime.engine, runtime.redis, runtime.outbox, runtime.auditor, passwords, sealer, settings,
                        clock)
    sessions = BrowserSessions(runtime.redis, idle_s=settings.session_idle_s, absolute_s=settings.session_absolute_s,
                               clock=clock)
    oauth = OAuthServer(runtime.engine, runtime.redis, token, accounts, runtime.auditor, settings, clock)
    accounts.on_revoke.append(sessions.delete_all)
    accounts.on_revoke.append(oauth.revoke_user)
    # A bare connection pool: no cookie jar (a Set-Cookie from one user's upstream response must never ride
    # along on another's request), no redirects, no proxies from the environment.
    # Idle connections are dropped before uvicorn's own keep-alive timeout (5 s) would close them under us.
    upstream = UpstreamPool(max_idle_per_host=100, keepalive_s=4.0)
    return Gateway(settings=settings, clock=clock, redis=runtime.redis, keys=keys, accounts=accounts,
                   sessions=sessions, oauth=oauth,
                   limiter=RateLimiter(runtime.redis, window_s=settings.rate_limit_window_s, clock=clock),
                   upstream=upstream)


def create_app(settings: Settings | None = None, *, clock: Callable[[], float] = time.time,
               run_consumers: bool = True) -> Litestar:
    """`run_consumers=False` leaves the inbox consumer off (tests that do not need it stop faster)."""
    settings = settings or Settings()
    # aiosqlite logs every statement with its parameters at DEBUG (e-mail addresses, sealed secrets):
    # never let that through, whatever the configured level.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)

    @contextlib.asynccontextmanager
    async def resources(runtime: Runtime) -> AsyncIterator[None]:
        gw = build_gateway(runtime, settings, clock)
        runtime.extras["gateway"] = gw
        runtime.extras["inbox"] = Inbox(runtime.engine, clock)
        gw.extras["federation"] = Federation(settings, runtime.redis, gw.accounts)
        live = LiveSockets(runtime.redis)
        gw.extras["live"] = live
        gw.accounts.on_suspend.append(live.suspend_user)
        gw.accounts.on_revoke.append(live.revoke_user)
        # The proxy's memory of checked credentials forgets a user on every change, here and elsewhere.
        cache = AuthCache(runtime.redis, settings.auth_cache_s)
        live.on_message.append(cache.on_message)
        live.on_subscription.append(cache.on_subscription)
        gw.accounts.on_change.append(cache.changed)
        gw.accounts.on_revoke.append(cache.changed)
        gw.sessions.on_end.append(cache.changed)
        gw.oauth.on_token_revoked.append(cache.changed)
        fast = FastAuth(gw, runtime.redis, cache)
        gw.extras["fastauth"] = fast
        await gw.keys.start()
        await live.start()
        fast.start()
        try:
            yield
        finally:
            await fast.stop()
            await live.stop()
            await gw.keys.stop()
            await gw.upstream.aclose()

    def inbox_handler(runtime: Runtime) -> Handler:
        box: Inbox = runtime.extras["inbox"]  # created by `resources`, which runs first
        return box.handler()

    app = build_app(
        name="gateway",
        settings=settings,
        route_handlers=[*BROWSER_ROUTES, *ACCOUNT_ROUTES, *OAUTH_ROUTES, *INBOX_ROUTES, *PEOPLE_ROUTES,
                        *FEDERATION_ROUTES, *WEB_ROUTES],
        migrations_dir=MIGRATIONS,
        outbox_table=outbox,
        setup=resources,
        consumers=[ConsumerSpec("gateway", INBOX_STREAMS, inbox_handler)] if run_consumers else [],
        dependencies=DEPENDENCIES,
        authenticate=False,
        metrics_token=settings.metrics_token,
        description=services.gateway.__doc__ or "",
    )
    app.asgi_handler = ProxyFront(app.asgi_handler, app.state.metrics)  # type: ignore[assignment]  # /api/...
    return app
