"""Import every feature's tables so `metadata` is complete (migrations env, tests)."""

from services.gateway.accounts import tables as accounts_tables
from services.gateway.adapters.db import metadata
from services.gateway.inbox import tables as inbox_tables
from services.gateway.keys import tables as keys_tables
from services.gateway.oauth import tables as oauth_tables

__all__ = ["accounts_tables", "inbox_tables", "keys_tables", "metadata", "oauth_tables"]
