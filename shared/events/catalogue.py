"""Every stream, its producer and its consumer groups (docs/architecture.md mirrors this table).

Consumer groups are declared here, not only by the consumers: a publisher creates every declared
group (reading from the start of the stream) before its first publish, so events published before a
consumer service first starts are still delivered, and trimming knows whom to wait for.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import types as t
from shared.events.envelope import Event


@dataclass(frozen=True)
class StreamSpec:
    name: str
    producer: str
    groups: tuple[str, ...]
    events: tuple[type[Event], ...]

    @property
    def dead_letter(self) -> str:
        return f"{self.name}.dead"


STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        StreamSpec("tandem.user", "gateway", ("sessions", "records", "reports"),
                   (t.UserCreated, t.UserRolesChanged, t.UserSuspended, t.UserReactivated,
                    t.UserVettingChanged, t.UserAgreementsChanged, t.UserErasureRequested)),
        StreamSpec("tandem.pairing", "sessions", ("records", "gateway"),
                   (t.PairingProposed, t.PairingActivated, t.PairingDeclined, t.PairingEnded,
                    t.PairingTermChanged)),
        StreamSpec("tandem.session", "sessions", ("records", "gateway"),
                   (t.SessionScheduled, t.SessionCancelled, t.RecordingStarted, t.RecordingStopped)),
        StreamSpec("tandem.record", "records", ("gateway",),
                   (t.RecordCreated, t.RecordExpired, t.RecordAccessed)),
        StreamSpec("tandem.dispute", "records", ("gateway",), (t.DisputeChanged,)),
        StreamSpec("tandem.report", "reports", ("gateway",),
                   (t.ReportFiled, t.ReportUrgent, t.ReportOverdue)),
        StreamSpec("tandem.audit", "every service", ("audit-ledger",), (t.AuditEntry,)),
    )
}

_BY_TYPE: dict[str, StreamSpec] = {ev.TYPE: spec for spec in STREAMS.values() for ev in spec.events}


def stream_for(event_type: str) -> StreamSpec:
    """The stream an event type travels on."""
    try:
        return _BY_TYPE[event_type]
    except KeyError:
        raise LookupError(f"event type {event_type!r} is not in the catalogue") from None


def event_class(event_type: str) -> type[Event]:
    spec = stream_for(event_type)
    return next(ev for ev in spec.events if event_type == ev.TYPE)
