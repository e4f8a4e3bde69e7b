"""The skeleton every service's `create_app` builds on: the shared resources (`Runtime`) and the service's
own typed context, both created in the lifespan; probes, metrics, problem+json errors, request logging
and assertion checking.

The service template: `context.py` declares a frozen dataclass of the service's resources and an
`open_context(runtime)` async context manager that builds (and later closes) them. `build_app` hands
every field of that dataclass to handlers by name with Litestar `Provide`, so a controller asks for
`notes: Notes` and never looks anything up by a string."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import msgspec
import sqlalchemy as sa
from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from shared import db as dbmod
from shared.audit import Auditor
from shared.bus import Consumer, Handler, RedisStreamBus
from shared.events.types import AuditEntry
from shared.http import (
    EXCEPTION_HANDLERS,
    PUBLIC_PATHS,
    AssertionMiddleware,
    Metrics,
    NotFound,
    ObservabilityMiddleware,
    ServiceUnavailable,
)
from shared.identity import (
    ActsForCaller,
    AssertionVerifier,
    HttpJwks,
    Identity,
    KeySource,
    RedisReplayGuard,
    StaticKeys,
)
from shared.logging import get_logger
from shared.outbox import Outbox
from shared.settings import ServiceSettings

log = get_logger("tandem.service")

C = TypeVar("C")


@dataclass(frozen=True)
class Runtime:
    """The resources every service has, built by `build_app`'s lifespan before the service's context."""

    name: str
    settings: ServiceSettings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    redis: Redis
    bus: RedisStreamBus
    auditor: Auditor
    verifier: AssertionVerifier
    http: httpx.AsyncClient
    outbox: Outbox | None = None


@dataclass(frozen=True, kw_only=True)
class AuditedFeature(ActsForCaller):
    """A feature service acting for one caller over the service's runtime: `audit` stages an entry (ids
    only, never content) in the caller's transaction through the outbox, so the change and its entry
    commit together or not at all."""

    runtime: Runtime

    @property
    def outbox(self) -> Outbox:
        if self.runtime.outbox is None:  # pragma: no cover - build_app always configures it
            raise ServiceUnavailable()
        return self.runtime.outbox

    async def audit(self, conn: AsyncConnection, action: str, target: str, reason: str | None = None) -> None:
        await self.outbox.add(conn, AuditEntry(actor=self.me.sub, action=action, target=target, outcome="success",
                                               reason=reason), subject=target)


@dataclass(frozen=True)
class ConsumerSpec(Generic[C]):
    """A consumer group this service runs: `handler(runtime, context)` builds the handler once the
    service's context exists."""

    group: str
    streams: tuple[str, ...]
    handler: Callable[[Runtime, C], Handler]


@dataclass(frozen=True)
class ContextSpec(Generic[C]):
    """How a service builds its context: `type` is the frozen dataclass (its fields become handler
    dependencies of the same names), `open(runtime)` yields an instance for the app's lifetime."""

    type: type[C]
    open: Callable[[Runtime], contextlib.AbstractAsyncContextManager[C]]

    def dependencies(self) -> dict[str, Provide]:
        if not is_dataclass(self.type):
            raise TypeError(f"{self.type.__name__} must be a dataclass")
        return {f.name: Provide(_context_field(f.name), sync_to_thread=False) for f in fields(self.type)}


def _context_field(name: str) -> Callable[[State], Any]:
    def provide(state: State) -> Any:
        return getattr(state.context, name)

    return provide


Check = Callable[[Any], Awaitable[None]]  # given the service's context


class HealthStatus(msgspec.Struct):
    status: str
    checks: dict[str, str] = {}


@get("/healthz", include_in_schema=True, tags=["operations"], sync_to_thread=False)
def healthz() -> HealthStatus:
    """Liveness: the process answers."""
    return HealthStatus(status="ok")


@get("/readyz", tags=["operations"])
async def readyz(state: State) -> Response[HealthStatus]:
    """Readiness: the database, Redis and (where used) the object store answer."""
    runtime: Runtime = state.runtime
    probes: dict[str, Callable[[], Awaitable[Any]]] = {
        "database": lambda: dbmod.ping(runtime.engine),
        "redis": lambda: runtime.redis.ping(),
    }
    for name, check in state.readiness.items():
        probes[name] = functools.partial(check, state.context)
    checks: dict[str, str] = {}
    ok = True
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe(), 3.0)
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure makes the service unready
            ok = False
            checks[name] = f"failed: {type(exc).__name__}"
    return Response(HealthStatus(status="ready" if ok else "unready", checks=checks), status_code=200 if ok else 503)


def metrics_route(token: str | None) -> Any:
    """`/metrics`. Internal services serve it to their network (`token` None: the network policy guards
    it). A public listener (the gateway) passes a token: only a scraper presenting it as a bearer token
    reads the metrics; everyone else, and everyone when the token is empty, gets 404."""

    @get("/metrics", tags=["operations"], media_type=MediaType.TEXT, sync_to_thread=False)
    def metrics(state: State, request: Request[Any, Any, Any]) -> Response[bytes]:
        """Prometheus metrics."""
        if token is not None:
            scheme, _, presented = request.headers.get("authorization", "").partition(" ")
            if not token or scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.encode()):
                raise NotFound("No such resource.")
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


class WhoAmI(msgspec.Struct):
    sub: str
    roles: list[str]
    sid: str | None


@get("/whoami", tags=["identity"], sync_to_thread=False)
def whoami(identity: NamedDependency[Identity]) -> WhoAmI:
    """The identity the gateway asserted for this request."""
    return WhoAmI(sub=identity.sub, roles=sorted(identity.roles), sid=identity.sid)


def _provide_runtime(state: State) -> Runtime:
    return state.runtime  # type: ignore[no-any-return]


def _provide_identity(request: Request[Any, Any, Any]) -> Identity:
    user = request.scope.get("user")
    assert isinstance(user, Identity)  # noqa: S101 - the assertion middleware guarantees it
    return user


def key_source(settings: ServiceSettings, client: httpx.AsyncClient) -> KeySource:
    jwks_file = getattr(settings, "jwks_file", None)
    if jwks_file:
        return StaticKeys(msgspec.json.decode(Path(jwks_file).read_bytes()))
    return HttpJwks(settings.jwks_url, client)


def build_app(
    *,
    name: str,
    settings: ServiceSettings,
    route_handlers: Sequence[Any],
    migrations_dir: Path,
    outbox_table: sa.Table | None = None,
    context: ContextSpec[Any] | None = None,
    consumers: Sequence[ConsumerSpec[Any]] = (),
    readiness: dict[str, Check] | None = None,
    dependencies: dict[str, Provide] | None = None,
    description: str = "",
    public_paths: Sequence[str] = (),
    middleware: Sequence[Any] = (),
    authenticate: bool = True,
    metrics_token: str | None = None,
    **litestar_kwargs: Any,
) -> Litestar:
    """Assemble a Tandem service app. `context` builds the service's own resources (see `ContextSpec`);
    `readiness` checks are given that context; `metrics_token` guards `/metrics` on a public listener
    (see `metrics_route`)."""
    app_metrics = Metrics(name)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = dbmod.create_engine(settings.database_url)
        redis = Redis.from_url(settings.redis_url, socket_timeout=None, socket_connect_timeout=5,
                               health_check_interval=30)
        http = httpx.AsyncClient(timeout=10.0)
        bus = RedisStreamBus(redis, name)
        # Used assertion ids live in this service's Redis, so a replay is refused by every instance.
        verifier = AssertionVerifier(key_source(settings, http), audience=name, issuer=settings.assertion_issuer,
                                     replay=RedisReplayGuard(redis))
        runtime = Runtime(name=name, settings=settings, engine=engine, db=dbmod.sessionmaker(engine), redis=redis,
                          bus=bus, auditor=Auditor(bus), verifier=verifier, http=http,
                          outbox=Outbox(engine, outbox_table, bus, name) if outbox_table is not None else None)
        app.state.runtime = runtime
        app.state.verifier = verifier
        app.state.context = None
        running: list[Consumer] = []
        app.state.consumers = running
        try:
            if getattr(settings, "migrate_on_start", True):
                await dbmod.upgrade(engine, migrations_dir, lock_key=name)
            async with contextlib.AsyncExitStack() as stack:
                ctx = await stack.enter_async_context(context.open(runtime)) if context is not None else None
                app.state.context = ctx
                for spec in consumers:
                    consumer = Consumer(redis, group=spec.group, name=settings.consumer_name, streams=spec.streams,
                                        handler=spec.handler(runtime, ctx), max_deliveries=settings.bus_max_deliveries,
                                        claim_idle_ms=settings.bus_claim_idle_ms)
                    running.append(consumer)
                    consumer.start()
                if runtime.outbox is not None:
                    runtime.outbox.start()
                log.info("service.started", service=name)
                try:
                    yield
                finally:
                    # Together: each may wait out its blocking read (up to a second) before it returns.
                    await asyncio.gather(*(consumer.stop() for consumer in running))
                    if runtime.outbox is not None:
                        await runtime.outbox.stop()
        finally:
            await http.aclose()
            await redis.aclose()
            await engine.dispose()
            log.info("service.stopped", service=name)

    mw: list[Any] = [DefineMiddleware(ObservabilityMiddleware, metrics=app_metrics)]
    if authenticate:
        mw.append(DefineMiddleware(AssertionMiddleware, exclude=[f"^{p}" for p in (*PUBLIC_PATHS, *public_paths)]))
    mw.extend(middleware)
    return Litestar(
        route_handlers=[healthz, readyz, metrics_route(metrics_token), *([whoami] if authenticate else []),
                        *route_handlers],
        lifespan=[lifespan],
        middleware=mw,
        exception_handlers=EXCEPTION_HANDLERS,
        logging_config=None,  # shared.logging owns logging; Litestar's default would replace our handlers
        dependencies={"runtime": Provide(_provide_runtime, sync_to_thread=False),
                      "identity": Provide(_provide_identity, sync_to_thread=False),
                      **(context.dependencies() if context is not None else {}), **(dependencies or {})},
        state=State({"metrics": app_metrics, "readiness": dict(readiness or {}), "settings": settings}),
        openapi_config=OpenAPIConfig(title=f"Tandem {name}", version="0.1.0", description=description,
                                     path="/schema", render_plugins=[ScalarRenderPlugin()]),
        **litestar_kwargs,
    )
