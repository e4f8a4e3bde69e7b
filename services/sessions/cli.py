"""Operator commands of the sessions service: `tandem sessions keys ...` (`python -m services.sessions.cli`)

    keys list               KEK versions, their state and how many data keys each still wraps
    keys rotate             add a KEK version and make it primary
    keys rewrap [--batch N] re-wrap every agenda key under the primary (no agenda read; resumable)
    keys retire VERSION     retire a version, refused while any data key references it

Settings come from SESSIONS_* variables (the same as the service). Exit codes: 0 ok, 1 refused, 2 usage.
Run `keys rewrap` while the service runs; restart nothing (the keyring file is re-read on change).
A copy of services/reports/cli.py's `keys` commands (a later issue gives the services one key-admin).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from services.sessions.adapters.vault import open_keyring, register_for_migrations
from services.sessions.config import Settings
from services.sessions.keys import service as keys
from shared import db
from shared.config import ConfigError, load_settings
from shared.crypto import KeyringError

MIGRATIONS = Path(__file__).parent / "migrations"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.sessions.cli", description="Sessions operator commands.")
    sub = p.add_subparsers(dest="group", required=True)
    k = sub.add_parser("keys", help="key-encryption keys").add_subparsers(dest="command", required=True)
    k.add_parser("list", help="list KEK versions and their references")
    k.add_parser("rotate", help="add a KEK version and make it primary")
    rw = k.add_parser("rewrap", help="re-wrap every data key under the primary KEK")
    rw.add_argument("--batch", type=int, default=200)
    rt = k.add_parser("retire", help="retire a KEK version nothing references")
    rt.add_argument("version", type=int)
    return p


def main(argv: list[str], *, settings: Settings | None = None, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    if settings is None:
        try:
            settings = load_settings(Settings, Settings.PREFIX, os.environ)
        except ConfigError as exc:
            print(f"sessions: configuration error: {exc}", file=sys.stderr)
            return 2
    return asyncio.run(_run(args, settings, stream))


def _say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)


async def _run(args: Any, settings: Settings, out: TextIO) -> int:
    engine = db.create_engine(settings.database_url)
    try:
        register_for_migrations(settings.database_url, settings.keyring_path)
        await db.upgrade(engine, MIGRATIONS, lock_key="sessions")
        provider = open_keyring(settings.keyring_path)
        if args.command == "list":
            refs = await keys.references(engine)
            _say(out, "version  state     created_at                        data_keys")
            for v in provider.versions():
                _say(out, f"{v.version:<8} {v.state:<9} {v.created_at.isoformat():<33} {refs.get(v.version, 0)}")
            return 0
        if args.command == "rotate":
            version = provider.rotate()
            _say(out, f"rotated: KEK version {version} is now primary; run `keys rewrap` next")
            return 0
        if args.command == "rewrap":
            done = await keys.rewrap_all(engine, provider, batch=max(1, args.batch))
            _say(out, f"rewrap: done, {done} data keys re-wrapped under KEK version {provider.primary_version()}")
            return 0
        try:
            await keys.retire(engine, provider, args.version)
        except keys.StillReferenced as exc:
            _say(out, f"refused: KEK version {exc.version} still wraps {exc.count} data keys; run `keys rewrap` first")
            return 1
        except KeyringError as exc:
            _say(out, f"refused: {exc}")
            return 1
        _say(out, f"retired: KEK version {args.version}")
        return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
