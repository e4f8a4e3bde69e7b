"""Audit emitter: `await audit(actor, action, target, outcome, reason=None)` publishes an
`audit.entry` to the `tandem.audit` stream, where the ledger (records service) chains and stores it.

It raises when the entry cannot be published: callers that must fail closed (dispute access) rely on
that. Targets are ids ("record:ab12"), never content; `reason` is free text the ledger encrypts.
"""

from __future__ import annotations

from shared.bus import EventBus
from shared.events.types import AuditEntry

OUTCOMES = frozenset({"success", "denied", "failure"})


class Auditor:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def __call__(self, actor: str, action: str, target: str, outcome: str, reason: str | None = None) -> str:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        entry = AuditEntry(actor=actor, action=action, target=target, outcome=outcome, reason=reason)
        return await self.bus.publish(entry, subject=target)
