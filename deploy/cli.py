"""The `tandem` command: `run` (everything on one machine) and the operator commands that belong to
a service (`keys`, `retention`, `audit` → records)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

DELEGATED = {
    "keys": "services.records.cli",
    "retention": "services.records.cli",
    "audit": "services.records.audit.cli",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in DELEGATED:
        module = importlib.import_module(DELEGATED[args[0]])
        return int(module.main(args))
    parser = argparse.ArgumentParser(prog="tandem", description="Tandem: secure mentoring sessions and records.")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run every service on this machine with embedded defaults")
    run_p.add_argument("--var-dir", type=Path, default=Path(os.environ.get("TANDEM_VAR_DIR", "var")))
    run_p.add_argument("--redis-port", type=int, default=int(os.environ.get("TANDEM_REDIS_PORT", "6380")))
    run_p.add_argument("--s3-base-port", type=int, default=int(os.environ.get("TANDEM_S3_BASE_PORT", "8330")),
                       help="SeaweedFS uses this port and a few above it; S3 answers on base+3")
    run_p.add_argument("--port-base", type=int, default=int(os.environ.get("TANDEM_PORT_BASE", "8000")),
                       help="gateway on this port, sessions/records/reports on the next three")
    run_p.add_argument("--check", action="store_true", help="start, wait until ready, print the URLs, stop")
    for name in DELEGATED:
        sub.add_parser(name, help=f"{name} commands (see `tandem {name} --help`)")
    ns = parser.parse_args(args)
    if ns.command == "run":
        from deploy.local.run import Options, run

        opts = Options(var_dir=ns.var_dir.resolve(), redis_url=os.environ.get("REDIS_URL") or None,
                       redis_port=ns.redis_port, s3_base_port=ns.s3_base_port, port_base=ns.port_base)
        return run(opts, check_only=ns.check)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
