"""Two-party recording consent: a pure state machine, one per session.

Rules (issue 9, seeds): either member may request; recording starts only once BOTH have explicitly
granted consent in this round; either may revoke at any time, which stops recording for both; a new
recording needs a new request and fresh grants from both; a member who disconnects is not consenting
for the time away (their grant is void, a running recording stops); nothing carries over between
sessions (the state is per session). When the programme ends a call (suspension, sign-out, pairing end)
the ledger gives that as the reason, not `disconnected`. Every change of consent yields ledger entries.

No I/O, no clock, no randomness: `now` and `new_id` are passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

import msgspec

Kind = Literal["requested", "granted", "revoked", "started", "stopped"]
# Stop reasons when the programme, not a member, ended the call (signalling/ending.py).
PROGRAMME_REASONS = ("suspended", "signed_out", "pairing_ended", "room_closed", "session_cancelled", "call_ended")
Phase = Literal["idle", "requested", "recording"]


class ConsentError(Exception):
    """An illegal consent message; `code` goes to the client in an error frame."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ConsentState(msgspec.Struct, frozen=True, kw_only=True):
    members: tuple[str, str]
    connected: tuple[str, ...] = ()
    requested_by: str | None = None
    granted: tuple[str, ...] = ()
    recording_id: str | None = None

    @property
    def phase(self) -> Phase:
        if self.recording_id:
            return "recording"
        return "requested" if self.requested_by else "idle"


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One ledger line: what happened, who did it, when."""

    kind: Kind
    actor: str
    at: datetime
    recording_id: str | None = None
    reason: str | None = None


class Request(msgspec.Struct, frozen=True):
    actor: str


class Grant(msgspec.Struct, frozen=True):
    actor: str


class Revoke(msgspec.Struct, frozen=True):
    actor: str


class Connect(msgspec.Struct, frozen=True):
    actor: str


class Disconnect(msgspec.Struct, frozen=True):
    """The member is no longer in the call: their socket dropped (`disconnected`), or the programme
    ended the call because of them (`suspended`, `signed_out`) or for them (`call_ended`)."""

    actor: str
    reason: str = "disconnected"


class Stop(msgspec.Struct, frozen=True):
    """The system stops a recording: session over, pairing ended, recorder failed."""

    reason: str
    actor: str = "system"


Event = Request | Grant | Revoke | Connect | Disconnect | Stop


def initial(members: tuple[str, str]) -> ConsentState:
    return ConsentState(members=members)


def _without(items: tuple[str, ...], who: str) -> tuple[str, ...]:
    return tuple(i for i in items if i != who)


def _stop(state: ConsentState, actor: str, now: datetime, reason: str) -> tuple[ConsentState, list[Entry]]:
    """Stop and forget the round: the next recording needs a new request and two fresh grants."""
    entries = [Entry(kind="stopped", actor=actor, at=now, recording_id=state.recording_id, reason=reason)]
    return msgspec.structs.replace(state, requested_by=None, granted=(), recording_id=None), entries


def apply(state: ConsentState, event: Event, now: datetime,
          new_id: Callable[[], str]) -> tuple[ConsentState, list[Entry]]:
    """The next state and the ledger entries for `event`; raises ConsentError when it is not allowed."""
    if isinstance(event, Stop):
        if state.recording_id is None:
            return msgspec.structs.replace(state, requested_by=None, granted=()), []
        return _stop(state, event.actor, now, event.reason)
    actor = event.actor
    if actor not in state.members:
        raise ConsentError("not-a-member")
    match event:
        case Connect():
            if actor in state.connected:
                return state, []
            return msgspec.structs.replace(state, connected=(*state.connected, actor)), []
        case Disconnect():
            gone = msgspec.structs.replace(state, connected=_without(state.connected, actor))
            if state.recording_id is not None:
                stopped, entries = _stop(gone, actor, now, event.reason)
                return stopped, [Entry(kind="revoked", actor=actor, at=now, recording_id=state.recording_id,
                                       reason=event.reason), *entries]
            if actor in state.granted:
                return (msgspec.structs.replace(gone, granted=_without(state.granted, actor)),
                        [Entry(kind="revoked", actor=actor, at=now, reason=event.reason)])
            return gone, []
        case Request():
            if actor not in state.connected:
                raise ConsentError("not-connected")
            if state.recording_id is not None:
                raise ConsentError("already-recording")
            if state.requested_by is not None:
                raise ConsentError("already-requested")
            return (msgspec.structs.replace(state, requested_by=actor, granted=()),
                    [Entry(kind="requested", actor=actor, at=now)])
        case Grant():
            if actor not in state.connected:
                raise ConsentError("not-connected")
            if state.recording_id is not None:
                raise ConsentError("already-recording")
            if state.requested_by is None:
                raise ConsentError("no-request")
            if actor in state.granted:
                raise ConsentError("already-granted")
            granted = (*state.granted, actor)
            entries = [Entry(kind="granted", actor=actor, at=now)]
            both = set(granted) == set(state.members) and set(state.members) <= set(state.connected)
            if not both:
                return msgspec.structs.replace(state, granted=granted), entries
            recording_id = new_id()
            entries.append(Entry(kind="started", actor="system", at=now, recording_id=recording_id))
            return msgspec.structs.replace(state, granted=granted, recording_id=recording_id), entries
        case Revoke():
            if state.recording_id is not None:
                stopped, entries = _stop(state, actor, now, "revoked")
                return stopped, [Entry(kind="revoked", actor=actor, at=now, recording_id=state.recording_id),
                                 *entries]
            if state.requested_by is None:
                return state, []  # nothing to withdraw: revoking is always allowed and changes nothing
            return (msgspec.structs.replace(state, requested_by=None, granted=()),
                    [Entry(kind="revoked", actor=actor, at=now)])
    raise ConsentError("unknown-event")  # pragma: no cover - the match above is exhaustive


def encode(state: ConsentState) -> bytes:
    return msgspec.json.encode(state)


def decode(raw: bytes) -> ConsentState:
    return msgspec.json.decode(raw, type=ConsentState)
