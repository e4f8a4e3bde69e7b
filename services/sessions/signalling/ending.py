"""How the programme ends a call, as opposed to a member's socket dropping.

A dropped socket keeps the member's place for the reconnect grace and the other member is told to wait.
A call the programme ends (a member suspended or signed out, the pairing ended, the room closed) is
over for both: each member's socket gets `call-ended{reason}` and is closed with a code the web app
never reconnects on, the member's place is not kept, and the consent ledger names the cause
(`suspended`, `signed_out`, `pairing_ended`, `room_closed`) instead of `disconnected`.

The gateway cuts a revoked member's relayed socket itself (suspension, sign-out): it closes its side to
this service with `REVOKED_CLOSE_CODE`, which is how we learn of a sign-out at all (no event says so).
"""

from __future__ import annotations

from dataclasses import dataclass

# Close code the gateway uses towards this service when it cut a socket because the member's sign-in
# was revoked; its close reason may name the cause (`suspended`, `signed-out`).
REVOKED_CLOSE_CODE = 4401

# What the member whose own status ended the call is told, and what the other member is told: the
# other member learns that the programme ended the call, not why (a suspension is not theirs to know).
PEER_REASON = "ended-by-programme"

# Client-facing reason → ledger reason.
LEDGER_REASONS = {"suspended": "suspended", "signed-out": "signed_out", "pairing-ended": "pairing_ended",
                  "room-closed": "room_closed"}

# Reasons that end the call (client-facing); the close code the socket gets with each.
ENDED_CLOSE_CODES = {"suspended": 4403, "pairing-ended": 4403, PEER_REASON: 4403, "signed-out": 4403,
                     "room-closed": 4410}

# The other member's grant (if any) lapses with the call: its ledger line says so.
OTHER_MEMBER_REASON = "call_ended"


@dataclass(frozen=True)
class Cause:
    """Why the programme ended a call: the ledger `reason`, and the member whose suspension or sign-out
    it was (None: the system's doing, e.g. the pairing ended or the room closed)."""

    reason: str
    member: str | None = None


def cause_of(client_reason: str, member: str | None = None) -> Cause | None:
    """The cause for a kick with `client_reason`, or None when the call is not over (replaced, shutdown)."""
    ledger = LEDGER_REASONS.get(client_reason)
    return Cause(ledger, member) if ledger is not None else None


def revoked_reason(close_reason: str, suspended: bool) -> str:
    """Ledger reason for a socket the gateway cut: its stated cause, else what the projection knows."""
    if close_reason == "suspended" or suspended:
        return "suspended"
    return "signed_out"
