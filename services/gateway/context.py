"""The gateway's resources, built once per app (`open_context`) and handed to handlers by field name."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.accounts.admin import AccountAdmin
from services.gateway.accounts.agreements import Agreements
from services.gateway.accounts.credentials import Passwords
from services.gateway.accounts.invitations import Invitations
from services.gateway.accounts.privileged import PrivilegedRoles
from services.gateway.accounts.second_factor import SecondFactor
from services.gateway.accounts.signin import SignIn
from services.gateway.accounts.users import USER_STATE_PREFIX, Users, read_user_state
from services.gateway.accounts.vetting import MentorVetting
from services.gateway.adapters.ratelimit import RateLimiter
from services.gateway.auth.cache import AuthCache
from services.gateway.auth.ports import TokenStore, UserStates
from services.gateway.auth.service import Authenticator, Limits
from services.gateway.browser.sessions import BrowserSessions
from services.gateway.config import Settings
from services.gateway.federation.service import Federation
from services.gateway.inbox.service import Inbox, tell_privileged_grant
from services.gateway.inbox.tables import inbox_items
from services.gateway.keys.service import KeyRing, Keys, Sealer
from services.gateway.live.service import LiveSockets
from services.gateway.oauth.access import AccessTokens
from services.gateway.oauth.clients import Clients
from services.gateway.oauth.codes import AuthorizationCodes
from services.gateway.oauth.revocation import Revocation
from services.gateway.oauth.store import OAuthStore, revocation_keys
from services.gateway.oauth.tokens import Tokens
from services.gateway.proxy.assertions import Assertions
from services.gateway.proxy.service import Proxy
from services.gateway.proxy.upstream import UpstreamPool
from shared.audit import Auditor
from shared.clock import EpochClock
from shared.outbox import Outbox
from shared.service import ContextSpec, Runtime

ASSERTION_LEEWAY_S = 5


@dataclass(frozen=True)
class GatewayContext:
    settings: Settings
    clock: EpochClock
    keys: Keys
    users: Users
    invitations: Invitations
    signin: SignIn
    second_factor: SecondFactor
    account_admin: AccountAdmin
    privileged: PrivilegedRoles
    vetting: MentorVetting
    agreements: Agreements
    sessions: BrowserSessions
    oauth_clients: Clients
    oauth_codes: AuthorizationCodes
    oauth_tokens: Tokens
    oauth_revocation: Revocation
    access_tokens: AccessTokens
    limiter: RateLimiter
    upstream: UpstreamPool
    inbox: Inbox
    federation: Federation
    live: LiveSockets
    auth: Authenticator
    proxy: Proxy


@dataclass(frozen=True)
class Stores:
    """What the CLI works with: the gateway's stores without its background tasks."""

    keys: Keys
    sealer: Sealer
    users: Users
    invitations: Invitations
    signin: SignIn
    sessions: BrowserSessions
    oauth_clients: Clients
    access_tokens: AccessTokens
    oauth_revocation: Revocation


def build_stores(*, engine: AsyncEngine, redis: Redis, outbox: Outbox, auditor: Auditor, settings: Settings,
                 clock: EpochClock) -> Stores:
    sealer = Sealer(settings.key_encryption_key, settings.previous_key_encryption_keys)
    assertion = KeyRing(engine, "assertion", sealer, clock=clock, rotate_s=settings.assertion_rotate_s,
                        publish_ahead_s=settings.key_publish_ahead_s,
                        retain_s=settings.assertion_lifetime_s + ASSERTION_LEEWAY_S + 60)
    token = KeyRing(engine, "token", sealer, clock=clock, rotate_s=settings.token_rotate_s,
                    publish_ahead_s=settings.key_publish_ahead_s,
                    retain_s=max(settings.access_token_lifetime_s, settings.id_token_lifetime_s) + 60)
    keys = Keys(assertion, token, settings.key_check_interval_s)
    passwords = Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib,
                          parallelism=settings.argon2_parallelism)
    users = Users(engine, redis, outbox, clock)
    signin = SignIn(users, auditor, passwords, sealer, settings, tell_privileged_grant)
    sessions = BrowserSessions(redis, idle_s=settings.session_idle_s, absolute_s=settings.session_absolute_s,
                               clock=clock, cookie_name=settings.cookie_name)
    oauth_store = OAuthStore(redis, engine)
    oauth_clients = Clients(engine, auditor, clock)
    access_tokens = AccessTokens(token, oauth_store, oauth_clients, users, settings.issuer, clock)
    revocation = Revocation(oauth_store, access_tokens, auditor, settings.access_token_lifetime_s, clock)
    users.on_revoke.append(sessions.delete_all)
    users.on_revoke.append(revocation.revoke_user)
    return Stores(keys=keys, sealer=sealer, users=users,
                  invitations=Invitations(users, auditor, passwords, sealer, settings), signin=signin,
                  sessions=sessions, oauth_clients=oauth_clients, access_tokens=access_tokens,
                  oauth_revocation=revocation)


def build_context(runtime: Runtime, settings: Settings, clock: EpochClock) -> GatewayContext:
    """Wire the gateway's parts on top of the shared runtime (nothing started yet)."""
    assert runtime.outbox is not None  # noqa: S101 - create_app always passes the outbox table
    stores = build_stores(engine=runtime.engine, redis=runtime.redis, outbox=runtime.outbox,
                          auditor=runtime.auditor, settings=settings, clock=clock)
    users, sessions, revocation = stores.users, stores.sessions, stores.oauth_revocation
    auditor = runtime.auditor
    account_admin = AccountAdmin(users, auditor, erase_rows_in=(inbox_items,))
    codes = AuthorizationCodes(revocation.store, stores.oauth_clients, users, revocation, auditor,
                               settings.auth_code_lifetime_s, clock)
    tokens = Tokens(codes, revocation, revocation.store, stores.keys.token, users, auditor, settings, clock)
    live = LiveSockets(runtime.redis)
    account_admin.on_suspend.append(live.suspend_user)
    users.on_revoke.append(live.revoke_user)
    sessions.on_logout.append(revocation.revoke_sid)
    sessions.on_logout.append(live.revoke_sid)
    limiter = RateLimiter(runtime.redis, window_s=settings.rate_limit_window_s, clock=clock)
    # The memory of checked credentials forgets a user on every change, here and elsewhere.
    cache = AuthCache(runtime.redis, settings.auth_cache_s)
    live.on_message.append(cache.on_message)
    live.on_subscription.append(cache.on_subscription)
    users.on_change.append(cache.changed)
    users.on_revoke.append(cache.changed)
    sessions.on_end.append(cache.changed)
    revocation.on_token_revoked.append(cache.changed)
    auth = Authenticator(
        runtime.redis, sessions=sessions, cache=cache, cookie_name=settings.cookie_name, clock=clock,
        users=UserStates(prefix=USER_STATE_PREFIX, read=read_user_state, state=users.state),
        tokens=TokenStore(issuer=stores.access_tokens.issuer, decode=stores.access_tokens.decode,
                          revocation_keys=revocation_keys, service_client=stores.oauth_clients.recent),
        limits=Limits(limiter, per_identity=settings.rate_limit_per_identity, per_ip=settings.rate_limit_per_ip))
    # A bare connection pool: no cookie jar (a Set-Cookie from one user's upstream response must never ride
    # along on another's request), no redirects, no proxies from the environment.
    # Idle connections are dropped before uvicorn's own keep-alive timeout (5 s) would close them under us.
    upstream = UpstreamPool(max_idle_per_host=100, keepalive_s=4.0)
    assertions = Assertions(stores.keys.assertion, issuer=settings.assertion_issuer,
                            lifetime_s=settings.assertion_lifetime_s, clock=clock)
    proxy = Proxy(settings=settings, clock=clock, redis=runtime.redis, auth=auth, sessions=sessions,
                  limiter=limiter, upstream=upstream, live=live, assertions=assertions)
    return GatewayContext(settings=settings, clock=clock, keys=stores.keys, users=users,
                          invitations=stores.invitations, signin=stores.signin,
                          second_factor=SecondFactor(stores.signin), account_admin=account_admin,
                          privileged=PrivilegedRoles(users, stores.signin, auditor, tell_privileged_grant),
                          vetting=MentorVetting(users, auditor), agreements=Agreements(users, auditor),
                          sessions=sessions, oauth_clients=stores.oauth_clients, oauth_codes=codes,
                          oauth_tokens=tokens, oauth_revocation=revocation, access_tokens=stores.access_tokens,
                          limiter=limiter, upstream=upstream, inbox=Inbox(runtime.engine, clock),
                          federation=Federation(settings, runtime.redis, stores.signin), live=live, auth=auth,
                          proxy=proxy)


@contextlib.asynccontextmanager
async def open_context(runtime: Runtime, clock: EpochClock = time.time) -> AsyncIterator[GatewayContext]:
    """The gateway's context for the app's lifetime: built, its background tasks started, then stopped."""
    settings = runtime.settings
    assert isinstance(settings, Settings)  # noqa: S101 - create_app builds the runtime from gateway settings
    ctx = build_context(runtime, settings, clock)
    await ctx.keys.start()
    await ctx.live.start()
    ctx.auth.start()
    try:
        yield ctx
    finally:
        await ctx.auth.stop()
        await ctx.live.stop()
        await ctx.keys.stop()
        await ctx.upstream.aclose()


CONTEXT = ContextSpec(GatewayContext, open_context)


def context_with_clock(clock: EpochClock) -> ContextSpec[GatewayContext]:
    """`CONTEXT` on another clock (tests move time by hand)."""
    return ContextSpec(GatewayContext, functools.partial(open_context, clock=clock))
