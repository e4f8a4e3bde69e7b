"""Container HEALTHCHECK: GET /healthz of the service this container runs; exit 0 when it answers 200.

The service is read from PID 1's command line (`python -m services.<name>`), its port from
`<PREFIX>_PORT` or the service's default, so one image serves every service without extra settings.
Standard library only: it runs in the runtime image with a read-only root filesystem.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

DEFAULT_PORTS = {"gateway": 8000, "sessions": 8001, "records": 8002, "reports": 8003}


def service_name(cmdline: list[str]) -> str | None:
    for arg in cmdline:
        if arg.startswith("services."):
            return arg.split(".", 1)[1]
    return None


def main() -> int:
    try:
        cmdline = Path("/proc/1/cmdline").read_bytes().decode().split("\0")
    except OSError:
        cmdline = []
    name = os.environ.get("TANDEM_SERVICE") or service_name(cmdline)
    if name not in DEFAULT_PORTS:
        print(f"healthcheck: cannot tell which service runs here ({name!r})", file=sys.stderr)
        return 1
    if "migrate" in cmdline:
        return 0  # a one-shot migration container has no HTTP server to probe
    port = int(os.environ.get(f"{name.upper()}_PORT", DEFAULT_PORTS[name]))
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
