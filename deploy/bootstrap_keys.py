"""Create Tandem's long-lived keys once, in one folder, for deployments whose replicas share them
(Kubernetes Secrets): the records keyring and its receipt-signing key, the audit ledger keys, the
reports keyring and the sessions keyring (agendas). Existing files are never overwritten, so a re-run only fills gaps.

    python -m deploy.bootstrap_keys /dev/shm/tandem-keys      # inside the image or a dev venv

Afterwards the folder holds (all 0600):
    keyring.json, keyring-receipt-signing.jwk      -> Secret tandem-records-keyring
    audit/ledger.key, audit/checkpoint-signing.key,
    audit/checkpoint-signing.pub                   -> Secret tandem-records-audit-keys
    reports-keyring.json                           -> Secret tandem-reports-keyring
    sessions-keyring.json                          -> Secret tandem-sessions-keyring
Keep an encrypted offline copy: without these files no backup can be read.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

RECORDS_KEYRING = "keyring.json"
RECEIPT_KEY = "keyring-receipt-signing.jwk"
AUDIT_DIR = "audit"
REPORTS_KEYRING = "reports-keyring.json"
SESSIONS_KEYRING = "sessions-keyring.json"


def bootstrap(directory: Path) -> dict[str, list[Path]]:
    """Create missing keys under `directory`; return the files of each Kubernetes Secret."""
    from services.records.adapters.receipts import ReceiptSigner
    from services.records.audit.keys import LEDGER_KEY, SIGNING_KEY, SIGNING_PUB, AuditKeys
    from shared.crypto import LocalKeyring

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    keyring = directory / RECORDS_KEYRING
    LocalKeyring(keyring)
    ReceiptSigner.load_or_create(directory / RECEIPT_KEY)
    AuditKeys.load_or_create(directory / AUDIT_DIR)
    LocalKeyring(directory / REPORTS_KEYRING)
    LocalKeyring(directory / SESSIONS_KEYRING)
    audit = directory / AUDIT_DIR
    for path in [*directory.glob("*.lock")]:
        path.unlink()  # the keyrings' lock files are recreated next to each copy
    for path in [keyring, directory / RECEIPT_KEY, directory / REPORTS_KEYRING, directory / SESSIONS_KEYRING,
                 *audit.iterdir()]:
        os.chmod(path, 0o600)
    return {
        "tandem-records-keyring": [keyring, directory / RECEIPT_KEY],
        "tandem-records-audit-keys": [audit / LEDGER_KEY, audit / SIGNING_KEY, audit / SIGNING_PUB],
        "tandem-reports-keyring": [directory / REPORTS_KEYRING],
        "tandem-sessions-keyring": [directory / SESSIONS_KEYRING],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.bootstrap_keys", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    secrets = bootstrap(args.directory)
    for name, files in secrets.items():
        args_text = " ".join(f"--from-file={path}" for path in files)
        print(f"kubectl -n tandem create secret generic {name} {args_text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
