"""Operator commands of the reports service: `python -m services.reports.cli ...` (`tandem reports ...`)

    keys list               KEK versions, their state and how many data keys each still wraps
    keys rotate             add a KEK version and make it primary
    keys rewrap [--batch N] re-wrap every data key under the primary (no sealed data read; resumable)
    keys retire VERSION     retire a version, refused while any data key references it

The shared key commands (shared/keyadmin) over the reports' wrapped keys (keys/spec.py). Settings come
from REPORTS_* variables (the same as the service). Exit codes: 0 ok, 1 refused, 2 usage.
Run `keys rewrap` while the service runs; restart nothing (the keyring file is re-read on change).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from services.reports.config import Settings
from services.reports.keys.spec import KEYS
from shared import keyadmin
from shared.crypto import LocalKeyring

MIGRATIONS = Path(__file__).parent / "migrations"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.reports.cli", description="Reports operator commands.")
    keyadmin.add_keys(p.add_subparsers(dest="group", required=True))
    return p


def main(argv: list[str], *, settings: Settings | None = None, out: TextIO | None = None) -> int:
    return keyadmin.main(argv, _parser(), Settings, _run, name="reports", settings=settings, out=out)


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    async with keyadmin.database(settings.database_url, MIGRATIONS, lock_key="reports") as engine:
        admin = keyadmin.KeyAdmin(engine, LocalKeyring(Path(settings.keyring_path)), KEYS.wrapped)
        return await keyadmin.run_keys(args, admin, KEYS, out)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
