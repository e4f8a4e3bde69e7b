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

import sys
from pathlib import Path
from typing import TextIO

from services.sessions.config import Settings
from services.sessions.keys.spec import KEYS
from shared.keyadmin import keys_main

MIGRATIONS = Path(__file__).parent / "migrations"


def main(argv: list[str], *, settings: Settings | None = None, out: TextIO | None = None) -> int:
    return keys_main(argv, KEYS, Settings, prog="python -m services.sessions.cli",
                     description="Sessions operator commands.", migrations=MIGRATIONS, settings=settings, out=out)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
