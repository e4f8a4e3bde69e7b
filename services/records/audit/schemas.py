"""Auditor view responses. What each field holds depends on the reader's audience (catalogue.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

# clear: the value; pseudonym: a keyed stand-in; withheld: not for this reader; protected: stored only
# as an HMAC (it was not an id, e.g. an e-mail), search for it by exact value.
ValueView = Literal["clear", "pseudonym", "withheld", "protected"]
# clear: decrypted for its owning audience; withheld: there is one, not for this reader; none: no
# reason; unreadable: the sealed reason could not be opened (key rotated away or damaged).
ReasonView = Literal["clear", "withheld", "none", "unreadable"]


class AuditEntryOut(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    source: str
    action: str
    hash: str
    actor: str | None  # per actor_view: the id, a pseudonym ("p:..."), or None
    actor_view: ValueView
    actor_protected: bool  # no actor value shown (withheld, or stored only as an HMAC)
    target: str | None
    target_view: ValueView
    target_protected: bool
    outcome: str | None  # None when withheld
    reason: str | None  # only for the audience that owns the entry's free text
    reason_view: ReasonView
    reason_unreadable: bool
    problem: str | None = None  # "uncatalogued-action": shown to operators only, every field withheld


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    entries: list[AuditEntryOut]
    next_before_seq: int | None  # pass as `before_seq` for the next (older) page; None at the end
