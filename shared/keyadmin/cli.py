"""The `keys` commands of a service's operator CLI, the same in every service that seals with envelope keys:

    keys list               KEK versions, their state and how many data keys each still wraps
    keys rotate             add a KEK version and make it primary
    keys rewrap [--batch N] re-wrap every data key under the primary (no sealed data read; resumable)
    keys retire VERSION     retire a version, refused while any data key references it

Exit codes: 0 ok, 1 refused, 2 usage (or configuration). A service describes its keys in a `KeyCommands`
(keys/spec.py). A CLI with only these commands is `keys_main`; one with more adds the group to its parser
(`add_keys`), opens its database (`database`) and hands the keys commands to `run_keys`. `main` is the
common frame (parse, settings from the environment, one event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TextIO, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db
from shared.crypto import KeyEncryptionKeyProvider, KeyringError, LocalKeyring
from shared.entrypoint import command_settings
from shared.keyadmin.service import KeyAdmin, RewrapProgress, StillReferenced, WrappedKeys


class KeyringSettings(Protocol):
    """What the key commands read of a service's settings."""

    PREFIX: ClassVar[str]

    @property
    def database_url(self) -> str: ...
    @property
    def keyring_path(self) -> str: ...


S = TypeVar("S", bound=KeyringSettings)


def local_keyring(settings: KeyringSettings) -> KeyEncryptionKeyProvider:
    """The keyring file at the service's keyring path (created with version 1 if there is none)."""
    return LocalKeyring(Path(settings.keyring_path))


@dataclass(frozen=True)
class KeyCommands(Generic[S]):
    """One service's key commands: its name (the migration lock, the prefix of a configuration error),
    where its wrapped keys live, how its keyring opens and how its operators run `rewrap`.
    `progress`: print each rewrap batch ("rewrap: done/total") and the count that proves a retire."""

    service: str
    wrapped: Sequence[WrappedKeys]
    keyring: Callable[[S], KeyEncryptionKeyProvider] = local_keyring
    rewrap: str = "keys rewrap"
    progress: bool = False

    def admin(self, engine: AsyncEngine, settings: S) -> KeyAdmin:
        return KeyAdmin(engine, self.keyring(settings), self.wrapped)


def add_keys(sub: Any) -> None:
    """Add the `keys` group to a parser's sub-parsers (`ArgumentParser.add_subparsers(dest="group")`)."""
    k = sub.add_parser("keys", help="key-encryption keys").add_subparsers(dest="command", required=True)
    k.add_parser("list", help="list KEK versions and their references")
    k.add_parser("rotate", help="add a KEK version and make it primary")
    rw = k.add_parser("rewrap", help="re-wrap every data key under the primary KEK")
    rw.add_argument("--batch", type=int, default=200)
    rt = k.add_parser("retire", help="retire a KEK version nothing references")
    rt.add_argument("version", type=int)


def missing(settings: KeyringSettings, *, keyring: bool) -> str | None:
    """What a command would create as a side effect if it ran now: a SQLite database file that does not
    exist, or (`keyring`) the keyring file. The service creates both on its first start; a command that
    created them would act on keys and rows the service never uses (a wrong path, another stack)."""
    path = db.sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        return f"no database at {path} (set {settings.PREFIX}_DATABASE_URL, or start the service once)"
    if keyring and not Path(settings.keyring_path).exists():
        return f"no keyring at {settings.keyring_path} (set {settings.PREFIX}_KEYRING_PATH, or start the service once)"
    return None


def say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)


async def run_keys(args: argparse.Namespace, admin: KeyAdmin, commands: KeyCommands[Any], out: TextIO) -> int:
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
    """Parse `argv` (a usage error exits 2, help 0), load the settings (the environment over the local
    stack's) unless given (a bad one: a line on stderr prefixed `name`, exit 2), then `run` in its own
    event loop; a failure is one line on stderr and exit 2."""
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    if settings is None:
        settings = command_settings(settings_type, name)
        if settings is None:
            return 2
    try:
        return asyncio.run(run(args, settings, out or sys.stdout))
    except KeyringError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - an operator command: one line, never a traceback with secrets
        print(f"{name}: could not run the command: {type(exc).__name__} (is the database at "
              f"{settings.PREFIX}_DATABASE_URL reachable?)", file=sys.stderr)
        return 2


def keys_main(argv: Sequence[str], commands: KeyCommands[S], settings_type: type[S], *, prog: str, description: str,
              migrations: Path, settings: S | None = None, out: TextIO | None = None) -> int:
    """The whole CLI of a service whose only operator commands are the key commands."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_keys(parser.add_subparsers(dest="group", required=True))

    async def run(args: argparse.Namespace, settings: S, out: TextIO) -> int:
        problem = missing(settings, keyring=commands.keyring is local_keyring)
        if problem:
            print(f"{commands.service}: {problem}", file=sys.stderr)
            return 2
        keyring = commands.keyring(settings)  # before the migrations: a service's may seal with it
        async with database(settings.database_url, migrations, lock_key=commands.service) as engine:
            return await run_keys(args, KeyAdmin(engine, keyring, commands.wrapped), commands, out)

    return main(argv, parser, settings_type, run, name=commands.service, settings=settings, out=out)
