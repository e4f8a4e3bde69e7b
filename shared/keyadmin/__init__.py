"""One key administration for every service that seals with envelope keys (shared/crypto/envelope.py):
`service` counts, rewraps and retires over a service's wrapped-key columns; `cli` is the `keys` commands."""

from shared.keyadmin.cli import KeyCommands, add_keys, database, main, run_keys, say
from shared.keyadmin.service import KeyAdmin, RewrapProgress, StillReferenced, WrappedKeys

__all__ = ["KeyAdmin", "KeyCommands", "RewrapProgress", "StillReferenced", "WrappedKeys", "add_keys", "database",
           "main", "run_keys", "say"]
