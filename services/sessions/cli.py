"""Operator commands of the sessions service: `tandem sessions keys ...` (`python -m services.sessions.cli`)

    keys list               KEK versions, their state and how many data keys each still wraps
    keys rotate             add a KEK version and make it primary
    keys rewrap [--batch N] re-wrap every agenda key under the primary (no agenda read; resumable)
    keys retire VERSION     retire a version, refused while any data key references it

The shared key commands (shared/keyadmin) over the agendas' wrapped keys (keys/spec.py). Settings come
from SESSIONS_* variables (the same as the service). Exit codes: 0 ok, 1 refused, 2 usage.
Run `keys rewrap` while the service runs; restart nothing (the keyring file is re-read on change).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from services.sessions.adapters.vault import open_keyring, register_for_migrations
from services.sessions.config import Settings
from services.sessions.keys.spec import KEYS
from shared import keyadmin

MIGRATIONS = Path(__file__).parent / "migrations"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.sessions.cli", description="Sessions operator commands.")
    keyadmin.add_keys(p.add_subparsers(dest="group", required=True))
    return p


def main(argv: list[str], *, settings: Settings | None = None, out: TextIO | None = None) -> int:
    return keyadmin.main(argv, _parser(), Settings, _run, name="sessions", settings=settings, out=out)


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    register_for_migrations(settings.database_url, settings.keyring_path)  # migration 0003 seals with it
    async with keyadmin.database(settings.database_url, MIGRATIONS, lock_key="sessions") as engine:
        admin = keyadmin.KeyAdmin(engine, open_keyring(settings.keyring_path), KEYS.wrapped)
        return await keyadmin.run_keys(args, admin, KEYS, out)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
