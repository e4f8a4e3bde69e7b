"""Vocabulary of the reports service: categories, case states and their transitions, working-day
arithmetic, the sealed payload shapes, and the per-app context handed to every feature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec
import structlog

from services.reports.adapters.ratelimit import RateLimiter
from services.reports.adapters.receipts import ReceiptBook
from services.reports.adapters.vault import Vault
from services.reports.config import Settings
from shared.identity import Identity

Category = Literal["boundary", "harassment_discrimination", "safety", "confidentiality_breach", "other"]
State = Literal["received", "acknowledged", "investigating", "resolved", "closed"]

# Illegal transitions answer 409. A resolved case may be reopened; closed is final (and starts retention).
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"investigating", "closed"}),
    "investigating": frozenset({"resolved", "closed"}),
    "resolved": frozenset({"closed", "investigating"}),
    "closed": frozenset(),
}

# Kinds bound into the AAD of each sealed object: a ciphertext only opens as what it was sealed as.
KIND_BODY = "report.body"
KIND_NOTE = "report.note"
KIND_MESSAGE = "report.message"
KIND_ATTACHMENT = "report.attachment"
KIND_ATTACHMENT_META = "report.attachment_meta"
KIND_REVEAL = "report.reveal_reason"


class Body(msgspec.Struct, frozen=True):
    """The sealed part of a report: the text and who or what it is about."""

    text: str
    session_id: str | None = None
    person_id: str | None = None
    reporter_id: str | None = None  # identified reports: revealed to handlers only after a four-eyes approval


class AttachmentMeta(msgspec.Struct, frozen=True):
    filename: str
    media_type: str


class EntryBody(msgspec.Struct, frozen=True):
    text: str


class RevealReasons(msgspec.Struct, frozen=True):
    requested: str
    approved: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` plus `days` working days (Mon-Fri), keeping the time of day. A concern filed on a
    weekend starts counting on Monday. Public holidays are not known here (a deliberate simplification)."""
    due = start
    while due.weekday() >= 5:  # filed on Saturday or Sunday: the clock starts Monday 00:00
        due = (due + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        due += timedelta(days=1)
        if due.weekday() < 5:
            remaining -= 1
    return due


@dataclass
class ReportsContext:
    """What the features share, built in the app's lifespan and kept in `runtime.extras["reports"]`."""

    settings: Settings
    vault: Vault
    receipts: ReceiptBook
    limiter: RateLimiter
    clock: Callable[[], datetime] = field(default=utcnow)

    def reporter_tag(self, sub: str) -> str:
        return self.vault.tag("reporter", sub)

    def subject_tag(self, person_id: str) -> str:
        return self.vault.tag("subject", person_id)

    def is_public(self, identity: Identity) -> bool:
        """The gateway's unauthenticated public form: the configured subject with no roles."""
        return identity.sub == self.settings.public_subject and not identity.roles


def forget_actor() -> None:
    """Drop the caller's account id from this request's log context (every reporter-side request)."""
    structlog.contextvars.unbind_contextvars("actor")
