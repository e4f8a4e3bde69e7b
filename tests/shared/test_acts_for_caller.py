"""A feature service that acts for one caller: bound per request, refusing to act unbound."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass

import pytest

from shared.identity import ActsForCaller, Identity


@dataclass(frozen=True)
class Ledger(ActsForCaller):
    name: str

    def whose(self) -> str:
        return f"{self.name}:{self.me.sub}"


def test_binding_gives_a_copy_for_the_caller_and_leaves_the_shared_one_unbound() -> None:
    shared = Ledger(name="notes")
    alice = Identity(sub="alice", roles=frozenset({"mentee"}))
    bound = shared.acting_for(alice)
    assert bound.whose() == "notes:alice"
    assert bound.name == "notes" and shared.caller is None
    with pytest.raises(FrozenInstanceError):
        bound.caller = Identity(sub="mallory", roles=frozenset())  # type: ignore[misc]


def test_an_unbound_service_refuses_to_act() -> None:
    with pytest.raises(RuntimeError, match="acts for a caller"):
        Ledger(name="notes").whose()
