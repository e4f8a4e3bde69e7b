"""Typed event payloads, grouped by stream. Ids and facts only: never note, report or media content,
names or e-mail addresses (a consumer that needs a person's details asks the gateway's projection)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from shared.events.envelope import Event

# --- tandem.user (producer: gateway) ---------------------------------------------------------------


class UserCreated(Event, frozen=True, kw_only=True):
    TYPE = "user.created"
    user_id: str
    roles: list[str]


class UserRolesChanged(Event, frozen=True, kw_only=True):
    TYPE = "user.roles_changed"
    user_id: str
    roles: list[str]


class UserSuspended(Event, frozen=True, kw_only=True):
    TYPE = "user.suspended"
    user_id: str


class UserReactivated(Event, frozen=True, kw_only=True):
    TYPE = "user.reactivated"
    user_id: str


class UserVettingChanged(Event, frozen=True, kw_only=True):
    """A mentor's vetting became complete (`vetted`) or was withdrawn."""

    TYPE = "user.vetting_changed"
    user_id: str
    vetted: bool


class UserAgreementsChanged(Event, frozen=True, kw_only=True):
    """Whether the user has accepted every current programme agreement."""

    TYPE = "user.agreements_changed"
    user_id: str
    accepted_current: bool


class UserErasureRequested(Event, frozen=True, kw_only=True):
    TYPE = "user.erasure_requested"
    user_id: str
    request_id: str


# --- tandem.pairing (producer: sessions) -----------------------------------------------------------


class PairingProposed(Event, frozen=True, kw_only=True):
    TYPE = "pairing.proposed"
    pairing_id: str
    mentor_id: str
    mentee_id: str
    proposed_by: str


class PairingActivated(Event, frozen=True, kw_only=True):
    TYPE = "pairing.activated"
    pairing_id: str
    mentor_id: str
    mentee_id: str


class PairingDeclined(Event, frozen=True, kw_only=True):
    TYPE = "pairing.declined"
    pairing_id: str
    mentor_id: str
    mentee_id: str


class PairingEnded(Event, frozen=True, kw_only=True):
    TYPE = "pairing.ended"
    pairing_id: str
    mentor_id: str
    mentee_id: str
    ended_at: datetime


TERM_CHANGES = ("ending_soon", "extension_proposed", "extended", "extension_declined")


class PairingTermChanged(Event, frozen=True, kw_only=True):
    """A pairing's term: its end is near (both are reminded), or an extension was proposed, accepted by
    both (`ends_at` is the new end) or declined. `proposed_until`: the end an extension asks for."""

    TYPE = "pairing.term"
    pairing_id: str
    mentor_id: str
    mentee_id: str
    change: str  # one of TERM_CHANGES
    ends_at: datetime
    proposed_until: datetime | None = None


# --- tandem.session (producer: sessions) -----------------------------------------------------------


class SessionScheduled(Event, frozen=True, kw_only=True):
    TYPE = "session.scheduled"
    session_id: str
    pairing_id: str
    starts_at: datetime
    ends_at: datetime


class SessionCancelled(Event, frozen=True, kw_only=True):
    TYPE = "session.cancelled"
    session_id: str
    pairing_id: str


class RecordingStarted(Event, frozen=True, kw_only=True):
    TYPE = "recording.started"
    session_id: str
    pairing_id: str
    recording_id: str


class ConsentLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a session's consent ledger: who (a user id, or "system") did what, when."""

    seq: int
    kind: str  # "requested", "granted", "started", "revoked", "stopped"
    actor: str
    at: datetime
    reason: str | None = None


# Why the programme ended one member's part of a call (their suspension, their signing out everywhere)
# is that member's own business: the pair is shown only that the programme ended it, on the call page
# and in every view of the consent ledger they can read (sessions' ledger, the recording's evidence,
# the inbox). The ledger itself, and admins in a dispute, keep the exact reason.
PRIVATE_STOP_REASONS = frozenset({"suspended", "signed_out"})
ENDED_BY_PROGRAMME = "ended_by_programme"


def reason_for_members(reason: str | None) -> str | None:
    """A consent or stop reason as the pairing's members are shown it."""
    return ENDED_BY_PROGRAMME if reason in PRIVATE_STOP_REASONS else reason


class RecordingStopped(Event, frozen=True, kw_only=True):
    TYPE = "recording.stopped"
    session_id: str
    pairing_id: str
    recording_id: str
    # A code, never free text: "revoked", "ended", "disconnected", "failed", "storage_unavailable", or the
    # programme ending the call: "suspended", "signed_out", "pairing_ended", "room_closed",
    # "session_cancelled", "call_ended" (the other member's side of it).
    reason: str
    record_id: str | None = None  # the stored recording in records, when there is one
    ledger: tuple[ConsentLine, ...] = ()  # the consent lines after the start (revoke, stop): the evidence's end


# --- tandem.record (producer: records) -------------------------------------------------------------


class RecordCreated(Event, frozen=True, kw_only=True):
    TYPE = "record.created"
    record_id: str
    pairing_id: str
    kind: str  # "note" | "recording"
    session_id: str | None = None


class RecordExpired(Event, frozen=True, kw_only=True):
    TYPE = "record.expired"
    record_id: str
    kind: str
    reason: str  # "retention" | "erasure"
    digest: str  # SHA-256 of the erasure receipt
    signature: str


class RecordAccessed(Event, frozen=True, kw_only=True):
    """A recording was read under a dispute or break-glass; both members are told."""

    TYPE = "record.accessed"
    record_id: str
    dispute_id: str
    accessor_id: str
    accessor_role: str
    member_ids: list[str]
    break_glass: bool = False


# --- tandem.dispute (producer: records) ------------------------------------------------------------


class DisputeChanged(Event, frozen=True, kw_only=True):
    TYPE = "dispute.changed"
    dispute_id: str
    session_id: str
    pairing_id: str
    state: str  # opened | access_requested | approved | rejected | break_glass | reviewed | closed
    actor_id: str
    member_ids: list[str]


# --- tandem.report (producer: reports) -------------------------------------------------------------
# `withheld_from`: who must not be told of the report: its subject, when reports knows them as an officer
# (an officer must not learn that a case about them exists; nobody else would be told anyway, so no other
# subject's id ever enters an event). The consumer tells every active officer it knows, minus these: the
# gateway's role table decides who the officers are, so an officer appointed a moment ago is told too.


class ReportFiled(Event, frozen=True, kw_only=True):
    TYPE = "report.filed"
    report_id: str
    category: str
    urgent: bool
    withheld_from: tuple[str, ...] = ()


class ReportUrgent(Event, frozen=True, kw_only=True):
    TYPE = "report.urgent"
    report_id: str
    category: str
    withheld_from: tuple[str, ...] = ()


class ReportOverdue(Event, frozen=True, kw_only=True):
    TYPE = "report.overdue"
    report_id: str
    withheld_from: tuple[str, ...] = ()


# --- tandem.audit (producers: every service; consumer: the ledger in records) ----------------------


class AuditEntry(Event, frozen=True, kw_only=True):
    TYPE = "audit.entry"
    actor: str
    action: str
    target: str
    outcome: str  # "success" | "denied" | "failure"
    reason: str | None = None
    # Account ids the ledger never shows this entry to: the subject of a report (services/reports hides
    # the case from them; its trail must stay hidden too). Ids only, never in a log line.
    hidden_from: tuple[str, ...] = ()
