"""Who must never read a report's audit trail: its subject.

A case about an officer is invisible to that officer here (cases/service.py); the audit ledger
(records) must not show them its trail either, so every entry about a report carries the subject's
account id in `hidden_from` (shared/audit.py). It is an id like every other id on the bus; it never
goes in a log line.
"""

from __future__ import annotations

from services.reports.domain import Body


def hidden_from(body: Body) -> tuple[str, ...]:
    return subject_of(body.person_id)


def subject_of(person_id: str | None) -> tuple[str, ...]:
    return (person_id,) if person_id else ()
