"""One key administration for every service that seals with envelope keys (shared/crypto/envelope.py):
`service` counts, rewraps and retires over a service's wrapped-key columns; `cli` is the `keys` commands."""

from shared.keyadmin.cli import (
    KeyCommands,
    KeyringSettings,
    add_keys,
    database,
    keys_main,
    local_keyring,
    main,
    missing,
    run_keys,
    say,
)
from shared.keyadmin.service import KeyAdmin, RewrapProgress, StillReferenced, WrappedKeys

__all__ = ["KeyAdmin", "KeyCommands", "KeyringSettings", "RewrapProgress", "StillReferenced", "WrappedKeys",
           "add_keys", "database", "keys_main", "local_keyring", "main", "missing", "run_keys", "say"]
