"""Scheduled-session bodies. `agenda` is confidential text: returned to the two members only, never logged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from services.sessions.consent.machine import Entry


class ScheduleSession(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: datetime
    ends_at: datetime
    agenda: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


class SessionOut(msgspec.Struct):
    session_id: str
    pairing_id: str
    starts_at: datetime
    ends_at: datetime
    state: str
    room_opens_at: datetime
    agenda: str | None = None


class ConsentEntryOut(Entry, frozen=True):
    # An Entry of the ledger with its number; `seq` is the only field not keyword-only, so it stays first.
    seq: int
