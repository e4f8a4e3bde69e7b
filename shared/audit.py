"""Audit emitter: `await audit(actor, action, target, outcome, reason=None)` publishes an
`audit.entry` to the `tandem.audit` stream, where the ledger (records service) chains and stores it.

It raises when the entry cannot be published: callers that must fail closed (dispute access) rely on
that. Targets are ids ("record:ab12"), never content. `reason` crosses Redis in clear before the ledger
encrypts it: give it a fixed phrase or an id ("reveal-request:ab12"), never a person's free text (seal
that where it belongs and point to it). `hidden_from` lists account ids the ledger must never show the
entry to (the subject of a report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shared.bus import EventBus
from shared.events.types import AuditEntry

OUTCOMES = frozenset({"success", "denied", "failure"})


class Auditor:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def __call__(self, actor: str, action: str, target: str, outcome: str, reason: str | None = None,
                       *, hidden_from: Iterable[str] = ()) -> str:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        entry = AuditEntry(actor=actor, action=action, target=target, outcome=outcome, reason=reason,
                           hidden_from=tuple(sorted(set(hidden_from))))
        return await self.bus.publish(entry, subject=target)


def reporter_pseudonym(tag: Callable[[str, str], str], sub: str, target: str) -> str:
    """The actor to record for a reporter's own action on `target` (filing, reading, writing).

    Not the account id: the reporter of an identified concern is revealed only with a second
    safeguarding officer's approval, and the ledger must not reveal it sooner. `tag` is the reports
    service's keyed blind index, so only that service can recompute the pseudonym (after a reveal, to
    show an auditor which entries were the reporter's). One pseudonym per reporter *and* target, so
    entries about two reports cannot be linked to the same person through the ledger.
    """
    return "reporter:" + tag("audit-actor", f"{target}\x00{sub}")[:32]
