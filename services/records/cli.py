"""`tandem keys ...` and `tandem retention sweep`: operator commands of the records service.

    keys list               KEK versions, their state and how many data keys each still wraps
    keys rotate             add a KEK version and make it primary
    keys rewrap [--batch N] re-wrap every data key under the primary (no object data read; resumable)
    keys retire VERSION     retire a version, refused while any data key references it
    retention sweep         expire due records once (crypto-shred), then exit

The `keys` commands are the shared ones (shared/keyadmin) over the records' wrapped keys (keys/spec.py).
Settings come from RECORDS_* variables (the same as the service). Exit codes: 0 ok, 1 refused, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from services.records.adapters.db import outbox as outbox_table
from services.records.config import Settings
from services.records.context import build_lifecycle
from services.records.keys.spec import KEYS
from services.records.retention.service import Retention
from shared import keyadmin
from shared.events import Envelope, Event
from shared.objectstore import S3ObjectStore
from shared.outbox import Outbox

MIGRATIONS = Path(__file__).parent / "migrations"


class _NoBus:
    """The CLI only stages events in the outbox; the running service's relay publishes them."""

    async def publish(self, payload: Event, *, subject: str = "", event_id: str | None = None) -> str:
        raise RuntimeError("the CLI does not publish")

    async def publish_envelope(self, envelope: Envelope) -> str:
        raise RuntimeError("the CLI does not publish")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tandem", description="Records service operator commands.")
    sub = p.add_subparsers(dest="group", required=True)
    keyadmin.add_keys(sub)
    r = sub.add_parser("retention", help="retention").add_subparsers(dest="command", required=True)
    r.add_parser("sweep", help="expire due records once")
    return p


def main(argv: list[str], *, settings: Settings | None = None, out: TextIO | None = None) -> int:
    return keyadmin.main(argv, _parser(), Settings, _run, name="tandem", settings=settings, out=out)


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    problem = keyadmin.missing(settings, keyring=True)
    if problem:
        print(f"tandem: {problem}", file=sys.stderr)
        return 2
    async with keyadmin.database(settings.database_url, MIGRATIONS, lock_key="records") as engine:
        if args.group == "retention":
            staged = Outbox(engine, outbox_table, _NoBus(), "records")
            lifecycle = build_lifecycle(settings, engine, staged,
                                        store=S3ObjectStore.from_settings(settings, settings.s3_bucket))
            retention = Retention(engine=engine, lifecycle=lifecycle, settings=settings,
                                  instance=settings.consumer_name)
            result = await retention.sweep_once()
            keyadmin.say(out, f"sweep: {len(result.expired)} expired, {len(result.failed)} failed")
            return 1 if result.failed else 0
        return await keyadmin.run_keys(args, KEYS.admin(engine, settings), KEYS, out)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
