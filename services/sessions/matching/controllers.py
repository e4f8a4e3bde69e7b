"""Matching routes (the gateway exposes them under /api/sessions/matching): a mentee's preferences,
conflicts of interest, and for admins the weights, suggestions with their reasons, and rounds."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from services.sessions.adapters.vault import Vault
from services.sessions.matching.rounds import Rounds
from services.sessions.matching.schemas import (
    ConflictIn,
    ConflictOut,
    PreferencesIn,
    PreferencesOut,
    RoundOut,
    RoundSummary,
    SendRound,
    SuggestionsOut,
    WeightsIn,
    WeightsOut,
)
from services.sessions.matching.service import Matching
from shared.http import require_roles
from shared.identity import Identity
from shared.service import Runtime

Yours = NamedDependency[Matching]
YourRounds = NamedDependency[Rounds]
ADMIN = require_roles("admin")


def _yours(runtime: NamedDependency[Runtime], vault: NamedDependency[Vault],
           identity: NamedDependency[Identity]) -> Matching:
    return Matching(runtime=runtime, vault=vault).acting_for(identity)


def _rounds(runtime: NamedDependency[Runtime], vault: NamedDependency[Vault],
            identity: NamedDependency[Identity]) -> Rounds:
    return Rounds(runtime=runtime, vault=vault).acting_for(identity)


class MatchingController(Controller):
    path = "/matching"
    tags = ["matching"]
    dependencies = {"yours": Provide(_yours, sync_to_thread=False)}

    @get("/preferences/me", guards=[require_roles("mentee")])
    async def my_preferences(self, yours: Yours) -> PreferencesOut:
        return await yours.my_preferences()

    @put("/preferences/me", guards=[require_roles("mentee")])
    async def set_preferences(self, yours: Yours, data: JSONBody[PreferencesIn]) -> PreferencesOut:
        """Up to three mentors, best first, or `match_me`; both empty: not waiting for a match."""
        return await yours.set_preferences(data)

    @get("/waiting", guards=[ADMIN])
    async def waiting(self, yours: Yours) -> list[PreferencesOut]:
        """The mentees waiting for a match, with their preferences (the next round's mentees)."""
        return await yours.waiting()

    @get("/preferences/{mentee_id:str}", guards=[ADMIN])
    async def preferences_of(self, yours: Yours, mentee_id: FromPath[str]) -> PreferencesOut:
        return await yours.preferences_of(mentee_id)

    @post("/conflicts", guards=[require_roles("mentee", "mentor", "admin")], status_code=201)
    async def declare_conflict(self, yours: Yours, data: JSONBody[ConflictIn]) -> ConflictOut:
        """A conflict of interest: this mentee and this mentor are never matched."""
        return await yours.declare_conflict(data)

    @get("/conflicts", guards=[require_roles("mentee", "mentor", "admin")])
    async def list_conflicts(self, yours: Yours) -> list[ConflictOut]:
        """Admins: all. Members: the ones they declared."""
        return await yours.conflicts()

    @get("/weights", guards=[ADMIN])
    async def weights(self, yours: Yours) -> WeightsOut:
        return await yours.weights()

    @put("/weights", guards=[ADMIN])
    async def set_weights(self, yours: Yours, data: JSONBody[WeightsIn]) -> WeightsOut:
        return await yours.set_weights(data)

    @get("/suggestions/{mentee_id:str}", guards=[ADMIN])
    async def suggestions(self, yours: Yours, mentee_id: FromPath[str]) -> SuggestionsOut:
        """The best mentors for one mentee, why each ranks where it does, and who is excluded and why."""
        return await yours.suggestions(mentee_id)


class RoundController(Controller):
    path = "/matching/rounds"
    tags = ["matching"]
    guards = [ADMIN]
    dependencies = {"rounds": Provide(_rounds, sync_to_thread=False)}

    @post("/", status_code=201)
    async def run(self, rounds: YourRounds) -> RoundOut:
        """A draft round: every waiting mentee at once, an optimal assignment within capacities."""
        return await rounds.run()

    @get("/")
    async def list_rounds(self, rounds: YourRounds) -> list[RoundSummary]:
        return await rounds.summaries()

    @get("/{round_id:str}")
    async def get_round(self, rounds: YourRounds, round_id: FromPath[str]) -> RoundOut:
        return await rounds.get(round_id)

    @post("/{round_id:str}/send", status_code=200)
    async def send(self, rounds: YourRounds, round_id: FromPath[str], data: JSONBody[SendRound]) -> RoundOut:
        """Propose the round's pairs (but the skipped mentees'); both members then confirm."""
        return await rounds.send(round_id, data.skip)

    @post("/{round_id:str}/discard", status_code=200)
    async def discard(self, rounds: YourRounds, round_id: FromPath[str]) -> RoundOut:
        return await rounds.discard(round_id)


ROUTES: list[ControllerRouterHandler] = [MatchingController, RoundController]
