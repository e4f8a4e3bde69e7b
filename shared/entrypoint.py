"""`python -m services.<name> [serve|migrate]`: load settings (one clear line and exit 2 when they are
bad), configure JSON logging, then serve with uvicorn or apply migrations."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from shared import db, localstack
from shared.config import ConfigError, load_settings
from shared.logging import configure_logging
from shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


class Prefixed(Protocol):
    PREFIX: ClassVar[str]


P = TypeVar("P", bound=Prefixed)


def load_or_exit(settings_cls: type[S]) -> S:
    try:
        return load_settings(settings_cls, settings_cls.PREFIX, os.environ)
    except ConfigError as exc:
        print(f"tandem: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def command_settings(settings_cls: type[P], name: str) -> P | None:
    """The settings of an operator command: the environment over the local stack's variables (when
    `tandem run` wrote them down), saying on stderr which stack it acts on. None (after one line on
    stderr) when they cannot be loaded."""
    try:
        environ, source = localstack.command_environ(settings_cls.PREFIX)
        print(f"{name}: {source}", file=sys.stderr, flush=True)
        return load_settings(settings_cls, settings_cls.PREFIX, environ)
    except (ConfigError, localstack.StackFileError) as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        return None


def main(name: str, settings_cls: type[S], create_app: Callable[[S], Any], migrations_dir: Path,
         argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{name}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    settings = load_or_exit(settings_cls)
    configure_logging(settings.log_level, json=settings.log_json, service=name)
    if args.command == "migrate":
        async def _migrate() -> None:
            engine = db.create_engine(settings.database_url)
            try:
                await db.upgrade(engine, migrations_dir, lock_key=name)
            finally:
                await engine.dispose()

        asyncio.run(_migrate())
        return
    import uvicorn

    # Behind an ingress the client address comes from X-Forwarded-For, but only from the proxies named
    # in *_TRUSTED_PROXIES (rate limits and the reports' client hash depend on it).
    trusted = ",".join(settings.trusted_proxies)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, server_header=False, proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None, lifespan="on", timeout_graceful_shutdown=10)
