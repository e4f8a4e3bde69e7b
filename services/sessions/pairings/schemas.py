"""Pairing request and response bodies."""

from __future__ import annotations

from datetime import datetime

import msgspec

UserId = msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")


class ProposePairing(msgspec.Struct, forbid_unknown_fields=True):
    """An admin proposes `mentor_id` + `mentee_id`; a mentee requests `mentor_id` (mentee_id is the caller)."""

    mentor_id: str = msgspec.field()
    mentee_id: str | None = None


class PairingOut(msgspec.Struct):
    pairing_id: str
    mentor_id: str
    mentee_id: str
    state: str
    proposed_by: str
    mentor_accepted: bool
    mentee_accepted: bool
    created_at: datetime
    activated_at: datetime | None
    closed_at: datetime | None
    term_ends_at: datetime | None  # active pairings: the term's end, then it closes (an extension moves it)
    extension_until: datetime | None  # an extension one member proposed, waiting for the other
    extension_proposed_by: str | None


class ProposeExtension(msgspec.Struct, forbid_unknown_fields=True):
    """A later end for the term; it takes effect when the other member accepts."""

    until: datetime
