"""What the proxy works with: built by the gateway's context, read by `ProxyFront` from the app's state."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from services.gateway.adapters.ratelimit import RateLimiter
from services.gateway.auth.service import Authenticator
from services.gateway.browser.sessions import BrowserSessions
from services.gateway.config import Settings
from services.gateway.live.service import LiveSockets
from services.gateway.proxy.assertions import Assertions
from services.gateway.proxy.upstream import UpstreamPool
from shared.clock import EpochClock


@dataclass(frozen=True)
class Proxy:
    settings: Settings
    clock: EpochClock
    redis: Redis  # the day's client-hash key of anonymous reports (`public`)
    auth: Authenticator
    sessions: BrowserSessions
    limiter: RateLimiter
    upstream: UpstreamPool
    live: LiveSockets
    assertions: Assertions
