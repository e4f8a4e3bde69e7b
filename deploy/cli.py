"""The `tandem` command: `run` (everything on one machine) and the operator commands that belong to
a service (`keys`, `retention`, `audit` → records; `reports keys ...` → reports; `sessions keys ...` →
sessions)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

# command -> (module with main(argv), whether the command word itself is passed on)
DELEGATED = {
    "keys": ("services.records.cli", True),
    "retention": ("services.records.cli", True),
    "audit": ("services.records.audit.cli", True),
    "reports": ("services.reports.cli", False),
    "sessions": ("services.sessions.cli", False),
    "gateway": ("services.gateway.cli", False),
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in DELEGATED:
        module_name, keep_word = DELEGATED[args[0]]
        module = importlib.import_module(module_name)
        return int(module.main(args if keep_word else args[1:]))
    parser = argparse.ArgumentParser(prog="tandem", description="Tandem: secure mentoring sessions and records.")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run every service on this machine with embedded defaults")
    run_p.add_argument("--var-dir", type=Path, default=Path(os.environ.get("TANDEM_VAR_DIR", "var")))
    run_p.add_argument("--redis-port", type=int, default=int(os.environ.get("TANDEM_REDIS_PORT", "6380")),
                       help="port of the Redis child (none is started when REDIS_URL is set)")
    run_p.add_argument("--s3-base-port", type=int, default=int(os.environ.get("TANDEM_S3_BASE_PORT", "8330")),
                       help="SeaweedFS listens on base..base+3 (S3 on base+3), base+5 (metrics) and gRPC on "
                            "base+10000..base+10003")
    run_p.add_argument("--port-base", type=int, default=int(os.environ.get("TANDEM_PORT_BASE", "8000")),
                       help="gateway on this port, sessions/records/reports on the next three")
    run_p.add_argument("--check", action="store_true", help="start, wait until ready, print the URLs, stop")
    sub.add_parser("keys", help="records key-encryption keys: list, rotate, rewrap, retire VERSION")
    sub.add_parser("retention", help="records retention: sweep (run the expiry sweeper once)")
    sub.add_parser("audit", help="audit ledger: verify (recompute the hash chain and checkpoint signatures)")
    sub.add_parser("reports", help="reports service commands, e.g. `tandem reports keys rotate`")
    sub.add_parser("sessions", help="sessions service commands (agenda keys), e.g. `tandem sessions keys rotate`")
    sub.add_parser("gateway", help="gateway commands: bootstrap-admin, create-client, rotate-keys, reseal")
    ns = parser.parse_args(args)
    if ns.command == "run":
        from deploy.local.run import Options, run

        opts = Options(var_dir=ns.var_dir.resolve(), redis_url=os.environ.get("REDIS_URL") or None,
                       redis_port=ns.redis_port, s3_base_port=ns.s3_base_port, port_base=ns.port_base)
        return run(opts, check_only=ns.check)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
