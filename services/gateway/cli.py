"""Operator commands: `python -m services.gateway <command>` (settings from GATEWAY_* variables).

  bootstrap-admin --email E --name N   create the first admin; prints a one-time set-password link
  create-client --name N ...           register an OAuth client; prints its id (and secret, once)
  rotate-keys {assertion,token}        publish the next signing key now
  reseal                               re-seal private signing keys and TOTP secrets under the current
                                       GATEWAY_KEY_ENCRYPTION_KEY (after a rotation; safe to re-run)

Secrets are printed to stdout once and never logged.
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

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.accounts.tables import user_roles, users
from services.gateway.adapters.db import outbox
from services.gateway.config import Settings
from services.gateway.context import Stores, build_stores
from services.gateway.keys.service import KeyUnavailable, Sealer
from services.gateway.keys.tables import signing_keys
from shared import db as dbmod
from shared.audit import Auditor
from shared.bus import RedisStreamBus
from shared.entrypoint import load_or_exit
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
        await dbmod.upgrade(engine, MIGRATIONS, lock_key="gateway")
        bus = RedisStreamBus(redis, "gateway")
        yield build_stores(engine=engine, redis=redis, outbox=Outbox(engine, outbox, bus, "gateway"),
                           auditor=Auditor(bus), settings=settings, clock=time.time)
    finally:
        await redis.aclose()
        await engine.dispose()


async def run(args: argparse.Namespace, settings: Settings) -> int:
    async with gateway(settings) as gw:
        if args.command == "bootstrap-admin":
            async with gw.users.engine.connect() as conn:
                admins = (await conn.execute(sa.select(sa.func.count()).select_from(user_roles)
                                             .where(user_roles.c.role == "admin"))).scalar_one()
            if admins and not args.force:
                print("An admin exists already; use --force to add another.", file=sys.stderr)
                return 1
            user_id, token, _ = await gw.invitations.create_user("bootstrap", args.email, args.name, ["admin"])
            base = settings.invitation_url
            base = settings.issuer + base if base.startswith("/") else base
            print(json.dumps({"user_id": user_id, "invitation_url": f"{base}#token={token}",
                              "note": "one-time link; admins must enrol TOTP when setting the password"}))
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
    settings = load_or_exit(Settings)
    configure_logging(settings.log_level, json=settings.log_json, service="gateway", stream=sys.stderr)
    return asyncio.run(run(args, settings))
