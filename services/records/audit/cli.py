"""`tandem audit verify | checkpoint | problems`: operator commands of the audit ledger (settings from RECORDS_*).

Exit codes: 0 the ledger verifies (problems: every entry's action is catalogued); 1 it does not (the
first bad entry is printed; problems: the uncatalogued entries are listed); 2 the check could not run
(configuration, database or object store unreachable). No command prints an actor, target or reason.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
import urllib3
from minio.error import S3Error
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.audit.archive import CheckpointArchive
from services.records.audit.catalogue import CATALOGUE
from services.records.audit.keys import AuditKeys, KeyFileError, load_public_keys
from services.records.audit.service import Ledger
from services.records.audit.tables import audit_entries
from services.records.audit.verify import Report, verify
from services.records.config import Settings
from shared.db import create_engine, sqlite_file
from shared.entrypoint import command_settings
from shared.objectstore import S3ObjectStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tandem audit", description="Tamper-evident audit ledger.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="recompute the chain and checkpoint signatures; name the first bad entry")
    c = sub.add_parser("checkpoint", help="sign the current head now (database row and object storage)")
    pr = sub.add_parser("problems", help="entries whose action is not in the audit catalogue (hidden from every "
                                         "reader): seq, source and action only")
    pr.add_argument("--database-url", help="default: RECORDS_DATABASE_URL")
    pr.add_argument("--key-dir", type=Path, help="unused; accepted for symmetry")
    pr.add_argument("--no-archive", action="store_true", help=argparse.SUPPRESS)
    for p in (v, c):
        p.add_argument("--database-url", help="default: RECORDS_DATABASE_URL")
        p.add_argument("--key-dir", type=Path, help="default: RECORDS_AUDIT_KEY_DIR")
        p.add_argument("--no-archive", action="store_true", help="skip the object-storage copies")
    return parser


def _print(report: Report) -> None:
    summary = (f"{report.entries} entries, head seq {report.head_seq}, {report.checkpoints} checkpoints, "
               f"{report.archived} archived checkpoints")
    if report.ok:
        print(f"OK: {summary} verified")
        return
    print(f"FAIL: first bad entry seq {report.first_bad_seq}" if report.first_bad_seq is not None
          else "FAIL: checkpoint problems", file=sys.stderr)
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    print(f"  ({summary} read)", file=sys.stderr)


async def _problems(engine: AsyncEngine) -> int:
    c = audit_entries.c
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(c.seq, c.source, c.action).where(c.action.not_in(list(CATALOGUE)))
                                   .order_by(c.seq))).all()
    for row in rows:
        print(f"seq {row.seq} source {row.source} action {row.action}: not in the audit catalogue")
    print(f"{len(rows)} uncatalogued entries" if rows else "OK: every entry's action is catalogued",
          file=sys.stderr if rows else sys.stdout)
    return 1 if rows else 0


async def _run(ns: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    key_dir = Path(settings.audit_key_dir)
    archive = None
    if not ns.no_archive:
        archive = CheckpointArchive(S3ObjectStore.from_settings(settings, settings.audit_bucket),
                                    lock_days=settings.audit_lock_days)
    try:
        if ns.command == "problems":
            return await _problems(engine)
        if ns.command == "checkpoint":
            if archive is not None:
                await asyncio.to_thread(archive.ensure)
            try:
                keys = AuditKeys.load(key_dir)  # never mint a new signing key from an operator command
            except KeyFileError as exc:
                print(f"tandem audit: {exc}", file=sys.stderr)
                return 2
            ledger = Ledger(engine, keys, archive=archive)
            cp = await ledger.checkpoint(force=True)
            print(f"checkpoint seq {cp.seq} hash {cp.hash} archived={cp.object_key is not None}" if cp else
                  "nothing to checkpoint")
            return 0
        public = load_public_keys(key_dir)
        if not public:
            print(f"tandem audit: no checkpoint-signing*.pub in {key_dir}", file=sys.stderr)
            return 2
        report = await verify(engine, public, archive=archive)
        _print(report)
        return 0 if report.ok else 1
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "audit":  # `tandem audit ...` hands over its whole argv
        args = args[1:]
    ns = _parser().parse_args(args)
    settings = command_settings(Settings, "tandem audit")
    if settings is None:
        return 2
    if ns.database_url:
        settings = replace(settings, database_url=ns.database_url)
    if ns.key_dir:
        settings = replace(settings, audit_key_dir=str(ns.key_dir))
    database = sqlite_file(settings.database_url)
    if database is not None and not database.exists():  # never create one by reading it
        print(f"tandem audit: no database at {database} (set RECORDS_DATABASE_URL or --database-url)",
              file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(ns, settings))
    except S3Error as exc:
        print(f"tandem audit: could not {ns.command}: the object store at {settings.s3_endpoint} answered "
              f"{exc.code} (RECORDS_S3_* variables, or --no-archive)", file=sys.stderr)
        return 2
    except urllib3.exceptions.HTTPError:
        print(f"tandem audit: could not {ns.command}: the object store at {settings.s3_endpoint} does not answer "
              "(RECORDS_S3_ENDPOINT, or --no-archive)", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - an operator command: one line, no traceback with secrets
        print(f"tandem audit: could not {ns.command}: {type(exc).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
