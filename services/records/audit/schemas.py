"""Auditor view responses."""

from __future__ import annotations

from datetime import datetime

import msgspec


class AuditEntryOut(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    source: str
    actor: str | None  # None: the actor was not an id (e.g. an e-mail); search for it by exact value
    actor_protected: bool
    action: str
    target: str | None
    target_protected: bool
    outcome: str
    reason: str | None  # decrypted for admins; None when the entry had none
    reason_unreadable: bool  # the sealed reason could not be opened (key rotated away or damaged)
    hash: str


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    entries: list[AuditEntryOut]
    next_before_seq: int | None  # pass as `before_seq` for the next (older) page; None at the end
