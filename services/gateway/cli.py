"""Operator commands: `python -m services.gateway <command>` (settings from GATEWAY_* variables).

  bootstrap-admin --email E --name N   create the first admin; prints a one-time set-password link
  bootstrap-admin --email E --new-link a fresh link for an existing admin (older links die)
  create-client --name N ...           register an OAuth client; prints its id (and secret, once)
  rotate-keys {assertion,token}        publish the next signing key now
  reseal                               re-seal private signing keys and TOTP secrets under the current
                                       GATEWAY_KEY_ENCRYPTION_KEY (after a rotation; safe to re-run)

Secrets are printed to stdout once and never logged. Settings come from GATEWAY_* variables over those of
the local stack `tandem run` wrote down (shared/localstack.py); stderr says which. An expected failure
is one line on stderr and exit 1 (refused) or 2 (cannot run), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.accounts.bootstrap import Refused, bootstrap_admin
from services.gateway.accounts.tables import users
from services.gateway.adapters.db import outbox
from services.gateway.config import Settings
from services.gateway.context import Stores, build_stores
from services.gateway.keys.service import KeyUnavailable, Sealer
from services.gateway.keys.tables import signing_keys
from shared import db as dbmod
from shared.audit import Auditor
from shared.bus import RedisStreamBus
from shared.entrypoint import command_settings
from shared.http import Problem
from shared.logging import configure_logging
from shared.outbox import Outbox

MIGRATIONS = Path(__file__).parent / "migrations"
COMMANDS = ("bootstrap-admin", "create-client", "rotate-keys", "reseal")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.gateway")
    sub = p.add_subparsers(dest="command", required=True)
    boot = sub.add_parser("bootstrap-admin", help="create the first admin account")
    boot.add_argument("--email", required=True)
    boot.add_argument("--name", default="Administrator")
    boot.add_argument("--force", action="store_true", help="even if an admin exists already")
    boot.add_argument("--new-link", action="store_true",
                      help="a fresh set-password link for an existing admin (their older links stop working)")
    client = sub.add_parser("create-client", help="register an OAuth client")
    client.add_argument("--name", required=True)
    client.add_argument("--client-id")
    client.add_argument("--grant", action="append", dest="grants", required=True,
                        choices=["authorization_code", "refresh_token", "client_credentials"])
    client.add_argument("--scope", action="append", dest="scopes", default=[])
    client.add_argument("--redirect-uri", action="append", dest="redirect_uris", default=[])
    client.add_argument("--post-logout-redirect-uri", action="append", dest="logout_uris", default=[])
    client.add_argument("--public", action="store_true", help="no secret (browser/mobile apps using PKCE)")
    client.add_argument("--client-secret-file", type=Path,
                        help="use the secret in this file (at least 32 characters) instead of generating one")
    rotate = sub.add_parser("rotate-keys", help="publish the next signing key now")
    rotate.add_argument("purpose", choices=["assertion", "token"])
    sub.add_parser("reseal", help="re-seal stored secrets under the current key-encryption key")
    return p


async def reseal(engine: AsyncEngine, sealer: Sealer) -> dict[str, int]:
    """Move every sealed secret to the current KEK, row by row (each in its own transaction, so an
    interrupted run simply continues next time). Counts what moved and what was current already."""
    counts = {"signing_keys": 0, "totp_secrets": 0, "already_current": 0}
    for table, column, key, label in ((signing_keys, signing_keys.c.private_jwk, signing_keys.c.kid, "signing_keys"),
                                      (users, users.c.totp_secret, users.c.id, "totp_secrets")):
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(key, column).where(column.is_not(None)))).all()
        for ident, sealed in rows:
            if sealer.current(sealed):
                counts["already_current"] += 1
                continue
            async with engine.begin() as conn:  # only if nobody changed it meanwhile
                done = await conn.execute(sa.update(table).where(key == ident, column == sealed)
                                          .values({column.name: sealer.reseal(sealed)}))
            counts[label] += done.rowcount
    return counts


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[Stores]:
    engine = dbmod.create_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url)
    try:
        try:
            await redis.ping()  # before anything is written: a command either finishes or changes nothing
        except (RedisError, OSError):
            raise CannotRun(f"Redis at {redacted(settings.redis_url)} does not answer (GATEWAY_REDIS_URL)") from None
        try:
            await dbmod.upgrade(engine, MIGRATIONS, lock_key="gateway")
        except (SQLAlchemyError, OSError):
            raise CannotRun(f"the database at {redacted(settings.database_url)} cannot be opened "
                            "(GATEWAY_DATABASE_URL)") from None
        bus = RedisStreamBus(redis, "gateway")
        yield build_stores(engine=engine, redis=redis, outbox=Outbox(engine, outbox, bus, "gateway"),
                           auditor=Auditor(bus), settings=settings, clock=time.time)
    finally:
        await redis.aclose()
        await engine.dispose()


async def run(args: argparse.Namespace, settings: Settings) -> int:
    async with gateway(settings) as gw:
        if args.command == "bootstrap-admin":
            try:
                link = await bootstrap_admin(gw.invitations, args.email, args.name, force=args.force,
                                             new_link=args.new_link)
            except (Refused, Problem) as exc:
                print(f"tandem gateway: refused: {exc.detail if isinstance(exc, Problem) else exc}", file=sys.stderr)
                return 1
            base = settings.invitation_url
            base = settings.issuer + base if base.startswith("/") else base
            note = ("one-time link; admins must enrol TOTP when setting the password" if link.created else
                    "one-time link; when it is used, the admin's old password and authenticator stop working")
            print(json.dumps({"user_id": link.user_id, "invitation_url": f"{base}#token={link.token}", "note": note}))
            return 0
        if args.command == "create-client":
            given = None
            if args.client_secret_file is not None:
                try:
                    given = args.client_secret_file.read_text().strip()
                except OSError as exc:
                    print(f"error: cannot read {args.client_secret_file}: {exc.strerror}", file=sys.stderr)
                    return 2
            try:
                client_id, secret = await gw.oauth_clients.create(
                    name=args.name, redirect_uris=args.redirect_uris, post_logout_redirect_uris=args.logout_uris,
                    grant_types=args.grants, scope=args.scopes, confidential=not args.public,
                    client_id=args.client_id, secret=given)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            # A secret the operator supplied is not echoed back.
            print(json.dumps({"client_id": client_id, "client_secret": None if given else secret}))
            return 0
        if args.command == "reseal":
            try:
                counts = await reseal(gw.users.engine, gw.sealer)
            except KeyUnavailable:
                print("error: a stored secret opens with none of the configured keys; set the key it was "
                      "sealed with in GATEWAY_PREVIOUS_KEY_ENCRYPTION_KEYS", file=sys.stderr)
                return 2
            print(json.dumps(counts))
            return 0
        ring = gw.keys.assertion if args.purpose == "assertion" else gw.keys.token
        await ring.load()
        print(json.dumps({"purpose": args.purpose, "kid": await ring.rotate()}))
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = command_settings(Settings, "tandem gateway")
    if settings is None:
        return 2
    if args.command == "bootstrap-admin":
        database = dbmod.sqlite_file(settings.database_url)
        if database is not None and not database.exists():  # its link could never work: nothing serves it
            print(f"tandem gateway: no database at {database}: start the stack first (`make run`), or set "
                  "GATEWAY_DATABASE_URL", file=sys.stderr)
            return 2
    configure_logging(settings.log_level, json=settings.log_json, service="gateway", stream=sys.stderr)
    try:
        return asyncio.run(run(args, settings))
    except Problem as exc:
        print(f"tandem gateway: refused: {exc.detail}", file=sys.stderr)
        return 1
    except CannotRun as exc:
        print(f"tandem gateway: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - an operator command: one line, never a traceback with secrets
        print(f"tandem gateway: could not {args.command}: {type(exc).__name__}", file=sys.stderr)
        return 2


class CannotRun(Exception):
    """A dependency of the command is missing or down; nothing was written."""


def redacted(url: str) -> str:
    """A URL without its password, for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
