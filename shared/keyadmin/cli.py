"""The `keys` commands of a service's operator CLI, the same in every service that seals with envelope keys:

    keys list               KEK versions, their state and how many data keys each still wraps
    keys rotate             add a KEK version and make it primary
    keys rewrap [--batch N] re-wrap every data key under the primary (no sealed data read; resumable)
    keys retire VERSION     retire a version, refused while any data key references it

Exit codes: 0 ok, 1 refused, 2 usage (or configuration). A service's cli.py adds the group to its parser
(`add_keys`), opens its database (`database`) and keyring and hands them to `run_keys` with its
`KeyCommands`; `main` is the common frame (parse, settings from the environment, one event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TextIO, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db
from shared.config import ConfigError, load_settings
from shared.crypto import KeyringError
from shared.keyadmin.service import KeyAdmin, RewrapProgress, StillReferenced, WrappedKeys


class _Settings(Protocol):
    PREFIX: ClassVar[str]


S = TypeVar("S", bound=_Settings)


@dataclass(frozen=True)
class KeyCommands:
    """One service's key commands: where its wrapped keys live and how its operators run `rewrap`.
    `progress`: print each rewrap batch ("rewrap: done/total") and the count that proves a retire."""

    wrapped: Sequence[WrappedKeys]
    rewrap: str = "keys rewrap"
    progress: bool = False


def add_keys(sub: Any) -> None:
    """Add the `keys` group to a parser's sub-parsers (`ArgumentParser.add_subparsers(dest="group")`)."""
    k = sub.add_parser("keys", help="key-encryption keys").add_subparsers(dest="command", required=True)
    k.add_parser("list", help="list KEK versions and their references")
    k.add_parser("rotate", help="add a KEK version and make it primary")
    rw = k.add_parser("rewrap", help="re-wrap every data key under the primary KEK")
    rw.add_argument("--batch", type=int, default=200)
    rt = k.add_parser("retire", help="retire a KEK version nothing references")
    rt.add_argument("version", type=int)


def say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)


async def run_keys(args: argparse.Namespace, admin: KeyAdmin, commands: KeyCommands, out: TextIO) -> int:
    keyring = admin.keyring
    if args.command == "list":
        refs = await admin.references()
        say(out, "version  state     created_at                        data_keys")
        for v in keyring.versions():
            say(out, f"{v.version:<8} {v.state:<9} {v.created_at.isoformat():<33} {refs.get(v.version, 0)}")
        return 0
    if args.command == "rotate":
        version = keyring.rotate()
        say(out, f"rotated: KEK version {version} is now primary; run `{commands.rewrap}` next")
        return 0
    if args.command == "rewrap":
        def report(p: RewrapProgress) -> None:
            say(out, f"rewrap: {p.done}/{p.total} data keys under the primary")

        done = await admin.rewrap_all(batch=max(1, args.batch), progress=report if commands.progress else None)
        say(out, f"rewrap: done, {done} data keys re-wrapped under KEK version {keyring.primary_version()}")
        return 0
    try:
        count = await admin.retire(args.version)
    except StillReferenced as exc:
        say(out, f"refused: KEK version {exc.version} still wraps {exc.count} data keys; "
                 f"run `{commands.rewrap}` first")
        return 1
    except KeyringError as exc:
        say(out, f"refused: {exc}")
        return 1
    proof = f" ({count} data keys reference it)" if commands.progress else ""
    say(out, f"retired: KEK version {args.version}{proof}")
    return 0


@contextlib.asynccontextmanager
async def database(url: str, migrations: Path, *, lock_key: str) -> AsyncIterator[AsyncEngine]:
    """The service's database, migrated to its head (as the service itself would), for one command."""
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine, migrations, lock_key=lock_key)
        yield engine
    finally:
        await engine.dispose()


def main(argv: Sequence[str], parser: argparse.ArgumentParser, settings_type: type[S],
         run: Callable[[argparse.Namespace, S, TextIO], Coroutine[Any, Any, int]], *, name: str,
         settings: S | None = None, out: TextIO | None = None) -> int:
    """Parse `argv` (a usage error exits 2, help 0), load the settings from the environment unless given
    (a bad one: a line on stderr prefixed `name`, exit 2), then `run` in its own event loop."""
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    if settings is None:
        try:
            settings = load_settings(settings_type, settings_type.PREFIX, os.environ)
        except ConfigError as exc:
            print(f"{name}: configuration error: {exc}", file=sys.stderr)
            return 2
    return asyncio.run(run(args, settings, out or sys.stdout))
