"""Create the secret files deploy/compose.yaml mounts (deploy/secrets/, never committed).

The folder is 0700 (only the operator reads it on the host); the files are 0644 because Compose
bind-mounts them unchanged and the containers run as non-root users of their own (10001, postgres...).

Existing files are kept, so re-running only fills gaps; `--force` regenerates everything (which makes
existing PostgreSQL roles and MinIO users disagree with the new files: only for a fresh install).
Usage: `python deploy/make_secrets.py [--dir deploy/secrets] [--force]`.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
from pathlib import Path

SERVICES = ("gateway", "sessions", "records", "reports")


def _token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def generate() -> dict[str, str]:
    """Name -> content for every secret in compose.yaml, consistent with each other."""
    values: dict[str, str] = {"postgres_password": _token()}
    for svc in SERVICES:
        password = _token()
        values[f"pg_{svc}_password"] = password
        values[f"{svc}_database_url"] = f"postgresql://{svc}:{password}@postgres:5432/{svc}"
    redis_password = _token()
    values["redis_password"] = redis_password
    values["redis_url"] = f"redis://:{redis_password}@redis:6379/0"
    values["minio_root_user"] = "tandem-root-" + secrets.token_hex(4)
    values["minio_root_password"] = _token()
    for svc in ("records", "reports"):
        values[f"{svc}_s3_access_key"] = f"tandem-{svc}-" + secrets.token_hex(6)
        values[f"{svc}_s3_secret_key"] = _token()
    # Fernet key: urlsafe base64 of 32 random bytes.
    values["gateway_key_encryption_key"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    values["turn_secret"] = _token()
    # The recorder's service-account secret: the gateway registers the client with this very value
    # (`create-client --client-secret-file`, docs/operations.md), so nothing has to be copied back.
    values["sessions_recording_client_secret"] = _token()
    return values


def write(directory: Path, *, force: bool = False) -> list[str]:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name, value in generate().items():
        path = directory / name
        if path.exists() and not force:
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        os.chmod(path, 0o644)  # the 0700 folder guards them (module docstring)
        written.append(name)
    os.chmod(directory, 0o700)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(__file__).with_name("secrets"))
    parser.add_argument("--force", action="store_true", help="regenerate existing files too")
    args = parser.parse_args(argv)
    written = write(args.dir, force=args.force)
    print(f"make_secrets: wrote {len(written)} file(s) in {args.dir}" + (f": {', '.join(written)}" if written else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
