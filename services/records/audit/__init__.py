"""Tamper-evident audit ledger: hash-chained entries from the `tandem.audit` stream, signed checkpoints
kept in the database and in object-locked storage, `audit verify`, and the admins' auditor view.

See docs/audit.md for the canonical encoding and the fail-closed helper used by dispute access.
"""
