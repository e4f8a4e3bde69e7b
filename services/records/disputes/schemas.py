"""Wire types of the disputes API. Reasons go in, and come back only to admins (from the ledger)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
RecordId = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
# Confidential free text: sealed in the audit ledger, never logged, never in events.
Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=4000)]
Hours = Annotated[int, msgspec.Meta(ge=1, le=168)]  # the configured maximum is checked in the service

State = Literal["open", "pending", "approved", "rejected", "break_glass", "closed"]
Outcome = Literal["upheld", "not_upheld", "resolved", "withdrawn"]
Verdict = Literal["justified", "unjustified"]


class DisputeOpen(msgspec.Struct, forbid_unknown_fields=True):
    session_id: Id
    reason: Reason


class AccessRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Ask for named admins to read named records of the dispute's session for a bounded window."""

    admin_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=10)]
    record_ids: Annotated[list[RecordId], msgspec.Meta(min_length=1, max_length=50)]
    reason: Reason
    window_hours: Hours | None = None  # default RECORDS_DISPUTE_WINDOW_HOURS


class Decision(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class CloseDispute(msgspec.Struct, forbid_unknown_fields=True):
    outcome: Outcome
    reason: Reason


class BreakGlass(msgspec.Struct, forbid_unknown_fields=True):
    record_ids: Annotated[list[RecordId], msgspec.Meta(min_length=1, max_length=50)]
    reason: Reason


class BreakGlassOpen(msgspec.Struct, forbid_unknown_fields=True):
    session_id: Id
    record_ids: Annotated[list[RecordId], msgspec.Meta(min_length=1, max_length=50)]
    reason: Reason


class Review(msgspec.Struct, forbid_unknown_fields=True):
    verdict: Verdict
    reason: Reason


class Grant(msgspec.Struct):
    admin_id: str
    record_id: str
    starts_at: datetime
    expires_at: datetime
    granted_by: str
    break_glass: bool
    revoked_at: datetime | None


class Access(msgspec.Struct):
    record_id: str
    admin_id: str
    range_start: int
    range_end: int
    at: datetime
    break_glass: bool


class Transition(msgspec.Struct):
    action: str
    state: State
    actor_id: str
    actor_role: str
    at: datetime
    detail: str | None
    reason: str | None  # decrypted from the ledger (admins only)


class PendingRequest(msgspec.Struct):
    requested_by: str
    requested_at: datetime
    admin_ids: list[str]
    record_ids: list[str]
    window_hours: int


class DisputeSummary(msgspec.Struct):
    id: str
    session_id: str
    pairing_id: str
    state: State
    opened_by: str
    opened_by_role: str
    opened_at: datetime
    updated_at: datetime
    outcome: str | None
    break_glass_unreviewed: bool


class Dispute(DisputeSummary):
    """The admin view: transitions with their reasons, grants and every access."""

    pending_request: PendingRequest | None
    transitions: list[Transition]
    grants: list[Grant]
    accesses: list[Access]


class MemberAccess(msgspec.Struct):
    record_id: str
    at: datetime
    accessor_role: str
    break_glass: bool


class MemberTransition(msgspec.Struct):
    action: str
    state: State
    actor_role: str
    at: datetime
    detail: str | None


class MemberDispute(msgspec.Struct):
    """What a pair member sees: states, when, by which role, and which records were read. No reasons
    and no admin identities (the reasons of others may name people or concerns)."""

    id: str
    session_id: str
    pairing_id: str
    state: State
    opened_by_me: bool
    opened_by_role: str
    opened_at: datetime
    updated_at: datetime
    outcome: str | None
    transitions: list[MemberTransition]
    accesses: list[MemberAccess]


class SessionRecord(msgspec.Struct):
    """A record of the disputed session (metadata only), and until when you may read it."""

    id: str
    kind: str
    media_type: str
    state: str
    size: int | None
    legal_hold: bool
    readable_until: datetime | None
