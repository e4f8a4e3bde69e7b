"""The consent state machine, exhaustively: every event in every reachable state, plus the rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.sessions.consent import machine as m

A, B, X = "alice", "bob", "mallory"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"rec{self.n}"


def run(events: list[m.Event], state: m.ConsentState | None = None) -> tuple[m.ConsentState, list[m.Entry]]:
    state = state or m.initial((A, B))
    ids, ledger = Ids(), []
    for i, ev in enumerate(events):
        state, entries = m.apply(state, ev, T0 + timedelta(seconds=i), ids)
        ledger += entries
    return state, ledger


def kinds(ledger: list[m.Entry]) -> list[tuple[str, str]]:
    return [(e.kind, e.actor) for e in ledger]


def both_connected() -> m.ConsentState:
    return run([m.Connect(A), m.Connect(B)])[0]


def test_both_grants_start_recording() -> None:
    state, ledger = run([m.Request(A), m.Grant(A), m.Grant(B)], both_connected())
    assert state.phase == "recording" and state.recording_id == "rec1"
    assert kinds(ledger) == [("requested", A), ("granted", A), ("granted", B), ("started", "system")]
    assert ledger[-1].recording_id == "rec1"


@pytest.mark.parametrize("reason", ["suspended", "signed_out"])
def test_a_call_the_programme_ends_is_ledgered_with_its_own_reason(reason: str) -> None:
    recording, _ = run([m.Request(A), m.Grant(A), m.Grant(B)], both_connected())
    state, ledger = run([m.Disconnect(B, reason), m.Disconnect(A, "call_ended")], recording)
    assert state.phase == "idle" and state.connected == ()
    assert [(e.kind, e.actor, e.reason, e.recording_id) for e in ledger] == [
        ("revoked", B, reason, "rec1"), ("stopped", B, reason, "rec1")]
    # Before a start, only the grant of the member the call ended for lapses, with that reason.
    requested, _ = run([m.Request(A), m.Grant(A)], both_connected())
    _, ledger = run([m.Disconnect(B, reason), m.Disconnect(A, "call_ended")], requested)
    assert [(e.kind, e.actor, e.reason) for e in ledger] == [("revoked", A, "call_ended")]
    # The pairing ended or the room closed: a system stop with that reason.
    state, ledger = run([m.Stop("pairing_ended")], recording)
    assert state.phase == "idle" and [(e.kind, e.actor, e.reason) for e in ledger] == [
        ("stopped", "system", "pairing_ended")]
    assert "disconnected" not in {e.reason for e in ledger}


def test_one_consent_alone_never_records() -> None:
    state, _ = run([m.Request(A), m.Grant(A)], both_connected())
    assert state.phase == "requested"
    with pytest.raises(m.ConsentError) as err:
        m.apply(state, m.Grant(A), T0, Ids())
    assert err.value.code == "already-granted"
    # The requester's request is not a grant: B granting alone does not start it either.
    state, _ = run([m.Request(A), m.Grant(B)], both_connected())
    assert state.phase == "requested" and state.recording_id is None


@pytest.mark.parametrize("who", [A, B])
def test_either_may_revoke_and_fresh_consent_is_needed(who: str) -> None:
    state, ledger = run([m.Request(A), m.Grant(A), m.Grant(B), m.Revoke(who)], both_connected())
    assert state.phase == "idle" and state.granted == () and state.requested_by is None
    assert kinds(ledger)[-2:] == [("revoked", who), ("stopped", who)]
    assert ledger[-1].reason == "revoked" and ledger[-1].recording_id == "rec1"
    with pytest.raises(m.ConsentError, match="no-request"):
        m.apply(state, m.Grant(A), T0, Ids())
    state, ledger = run([m.Request(B), m.Grant(A), m.Grant(B)], state)
    assert state.phase == "recording" and state.recording_id == "rec1"  # Ids() restarted in run()
    assert kinds(ledger)[-1] == ("started", "system")


def test_revoke_before_start_withdraws_the_round() -> None:
    state, ledger = run([m.Request(A), m.Grant(A), m.Revoke(B)], both_connected())
    assert state.phase == "idle" and kinds(ledger)[-1] == ("revoked", B)
    with pytest.raises(m.ConsentError, match="no-request"):
        m.apply(state, m.Grant(B), T0, Ids())


def test_revoke_when_idle_is_allowed_and_changes_nothing() -> None:
    state = both_connected()
    assert m.apply(state, m.Revoke(A), T0, Ids()) == (state, [])


@pytest.mark.parametrize("who", [A, B])
def test_disconnect_stops_recording_and_voids_consent(who: str) -> None:
    state, ledger = run([m.Request(A), m.Grant(A), m.Grant(B), m.Disconnect(who)], both_connected())
    assert state.phase == "idle" and who not in state.connected
    assert kinds(ledger)[-2:] == [("revoked", who), ("stopped", who)]
    assert ledger[-1].reason == "disconnected"
    state, _ = run([m.Connect(who)], state)  # coming back does not resume anything
    assert state.phase == "idle"


def test_disconnect_before_start_voids_that_grant_only() -> None:
    state, ledger = run([m.Request(A), m.Grant(A), m.Disconnect(A)], both_connected())
    assert state.phase == "requested" and state.granted == ()
    assert ledger[-1].kind == "revoked" and ledger[-1].reason == "disconnected"
    state, _ = run([m.Grant(B), m.Connect(A)], state)
    assert state.phase == "requested"
    state, _ = run([m.Grant(A)], state)
    assert state.phase == "recording"


def test_absent_member_cannot_act_and_outsiders_never() -> None:
    state = run([m.Connect(A)])[0]
    for ev in (m.Request(B), m.Grant(B)):
        with pytest.raises(m.ConsentError, match="not-connected"):
            m.apply(state, ev, T0, Ids())
    for ev in (m.Request(X), m.Grant(X), m.Revoke(X), m.Connect(X), m.Disconnect(X)):
        with pytest.raises(m.ConsentError, match="not-a-member"):
            m.apply(state, ev, T0, Ids())


def test_system_stop() -> None:
    state, ledger = run([m.Request(A), m.Grant(A), m.Grant(B), m.Stop("ended")], both_connected())
    assert state.phase == "idle" and kinds(ledger)[-1] == ("stopped", "system") and ledger[-1].reason == "ended"
    assert m.apply(state, m.Stop("ended"), T0, Ids())[1] == []


def test_consent_never_carries_over_between_sessions() -> None:
    # Each session starts from `initial`: a finished session's state cannot be handed to another.
    state, _ = run([m.Request(A), m.Grant(A), m.Grant(B)], both_connected())
    assert m.initial((A, B)) == m.ConsentState(members=(A, B))
    assert m.decode(m.encode(state)) == state


EVENTS: list[m.Event] = [cls(who) for cls in (m.Request, m.Grant, m.Revoke, m.Connect, m.Disconnect)
                         for who in (A, B, X)] + [m.Stop("ended")]


def test_exhaustive_invariants() -> None:
    """Every sequence of up to 6 events from the start: the invariants hold after each step."""
    seen: set[bytes] = set()
    frontier = [m.initial((A, B))]
    for _depth in range(6):
        nxt = []
        for state in frontier:
            for ev in EVENTS:
                try:
                    after, entries = m.apply(state, ev, T0, Ids())
                except m.ConsentError:
                    continue
                check_step(state, ev, after, entries)
                key = m.encode(after)
                if key not in seen:
                    seen.add(key)
                    nxt.append(after)
        frontier = nxt
    assert any(s for s in seen if b'"recording_id":"rec1"' in s)


def check_step(before: m.ConsentState, ev: m.Event, after: m.ConsentState, entries: list[m.Entry]) -> None:
    # Recording implies both granted in this round and both present.
    if after.recording_id:
        assert set(after.granted) == {A, B} and {A, B} <= set(after.connected)
    # Grants only by present members, only within a request.
    assert set(after.granted) <= set(after.connected)
    assert not after.granted or after.requested_by is not None
    # Starting happens only on a grant; stopping is always logged with the recording id.
    started = [e for e in entries if e.kind == "started"]
    assert not started or (isinstance(ev, m.Grant) and before.recording_id is None and after.recording_id)
    if before.recording_id and not after.recording_id:
        stop = [e for e in entries if e.kind == "stopped"]
        assert len(stop) == 1 and stop[0].recording_id == before.recording_id
    # A revoke or a disconnect of a member never leaves a recording running.
    if isinstance(ev, m.Revoke | m.Disconnect) and ev.actor in (A, B):
        assert after.recording_id is None
    # Nobody but the members and the system ever appears in the ledger.
    assert all(e.actor in (A, B, "system") for e in entries)


def test_all_pairs_of_orders_reach_recording_only_with_both() -> None:
    steps: list[m.Event] = [m.Request(A), m.Grant(A), m.Grant(B)]
    for order in itertools.permutations(steps):
        try:
            state, _ = run(list(order), both_connected())
        except m.ConsentError:
            continue
        assert state.phase == "recording" and order[0] == m.Request(A)
