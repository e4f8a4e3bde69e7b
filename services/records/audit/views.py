"""One ledger row as a given reader may see it: the catalogue decides each field (catalogue.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.records.audit.catalogue import UNCATALOGUED, Audience, Level, view_for
from services.records.audit.keys import AuditKeys
from services.records.audit.schemas import AuditEntryOut, ReasonView, ValueView
from shared.clock import aware
from shared.crypto.errors import DecryptionError


def as_utc(value: datetime) -> datetime:
    """A time from the database or a query in UTC (SQLite drops the zone; a query may carry any offset)."""
    return aware(value).astimezone(UTC)


def _value(keys: AuditKeys, level: Level, clear: str | None, mac: str) -> tuple[str | None, ValueView]:
    if level == "clear":
        return (clear, "clear") if clear is not None else (None, "protected")
    if level == "pseudonym":
        return keys.pseudonym(mac), "pseudonym"
    return None, "withheld"


def _reason(keys: AuditKeys, level: Level, row: Any) -> tuple[str | None, ReasonView]:
    if row.reason_sealed is None:
        return None, "none"
    if level != "clear":
        return None, "withheld"  # sealed stays sealed: it is opened only for the audience that owns it
    try:
        return keys.open_reason(row.event_id, row.reason_sealed), "clear"
    except DecryptionError:
        return None, "unreadable"


def render(keys: AuditKeys, row: Any, audiences: frozenset[Audience]) -> AuditEntryOut | None:
    """The row for this reader, or None if none of their audiences may see it. An uncatalogued
    action is a problem for operators (envelope only) and invisible to everyone else."""
    envelope = {"seq": int(row.seq), "event_id": row.event_id, "occurred_at": as_utc(row.occurred_at),
                "recorded_at": as_utc(row.recorded_at), "source": row.source, "action": row.action,
                "hash": row.hash}
    view = view_for(row.action, audiences)
    if view is None:
        if "operator" not in audiences or view_for(row.action, ("admin", "safeguarding", "operator")) is not None:
            return None
        return AuditEntryOut(**envelope, actor=None, actor_view="withheld", actor_protected=True, target=None,
                             target_view="withheld", target_protected=True, outcome=None, reason=None,
                             reason_view="withheld" if row.reason_sealed is not None else "none",
                             reason_unreadable=False, problem=UNCATALOGUED)
    actor, actor_view = _value(keys, view.actor, row.actor, row.actor_hmac)
    target, target_view = _value(keys, view.target, row.target, row.target_hmac)
    reason, reason_view = _reason(keys, view.reason, row)
    return AuditEntryOut(
        **envelope, actor=actor, actor_view=actor_view, actor_protected=actor_view in ("withheld", "protected"),
        target=target, target_view=target_view, target_protected=target_view in ("withheld", "protected"),
        outcome=row.outcome if view.outcome == "clear" else None, reason=reason, reason_view=reason_view,
        reason_unreadable=reason_view == "unreadable")
