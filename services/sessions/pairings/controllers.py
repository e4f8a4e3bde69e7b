"""Pairing routes (the gateway exposes them under /api/sessions/pairings)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from services.sessions.pairings.schemas import PairingOut, ProposeExtension, ProposePairing
from services.sessions.pairings.service import Pairings
from shared.http import require_roles
from shared.identity import Identity

# The feature service acting for the request's caller: handlers pass no identity on.
Yours = NamedDependency[Pairings]

PEOPLE = ("mentee", "mentor", "admin")
STATE_PATTERN = "^(proposed|active|declined|ended)$"


def _acting_for_caller(pairings: NamedDependency[Pairings], identity: NamedDependency[Identity]) -> Pairings:
    return pairings.acting_for(identity)


class PairingController(Controller):
    path = "/pairings"
    tags = ["pairings"]
    dependencies = {"yours": Provide(_acting_for_caller, sync_to_thread=False)}

    @post("/", guards=[require_roles("admin", "mentee")], status_code=201)
    async def propose(self, yours: Yours, data: JSONBody[ProposePairing]) -> PairingOut:
        """An admin proposes a mentor and a mentee, or a mentee requests a vetted mentor."""
        return await yours.propose(data.mentor_id, data.mentee_id)

    @get("/", guards=[require_roles(*PEOPLE)])
    async def list_pairings(
        self, yours: Yours,
        state_filter: Annotated[str | None, QueryParameter(name="state", pattern=STATE_PATTERN)] = None,
    ) -> list[PairingOut]:
        """Your pairings (admins: every pairing)."""
        return await yours.list_for(state_filter)

    @get("/{pairing_id:str}", guards=[require_roles(*PEOPLE)])
    async def get_pairing(self, yours: Yours, pairing_id: FromPath[str]) -> PairingOut:
        return await yours.get(pairing_id)

    @post("/{pairing_id:str}/accept", guards=[require_roles(*PEOPLE)], status_code=200)
    async def accept(self, yours: Yours, pairing_id: FromPath[str]) -> PairingOut:
        """A member accepts; the pairing becomes active when both have."""
        return await yours.accept(pairing_id)

    @post("/{pairing_id:str}/decline", guards=[require_roles(*PEOPLE)], status_code=200)
    async def decline(self, yours: Yours, pairing_id: FromPath[str]) -> PairingOut:
        """A member declines a proposal; no reason is asked."""
        return await yours.decline(pairing_id)

    @post("/{pairing_id:str}/end", guards=[require_roles(*PEOPLE)], status_code=200)
    async def end(self, yours: Yours, pairing_id: FromPath[str]) -> PairingOut:
        """A member ends an active pairing at any time; no reason is asked. Live calls are cut."""
        return await yours.end(pairing_id)

    @post("/{pairing_id:str}/extension", guards=[require_roles(*PEOPLE)], status_code=200)
    async def propose_extension(self, yours: Yours, pairing_id: FromPath[str],
                                data: JSONBody[ProposeExtension]) -> PairingOut:
        """A member proposes a later end for the term; it takes effect when the other accepts."""
        return await yours.propose_extension(pairing_id, data.until)

    @post("/{pairing_id:str}/extension/accept", guards=[require_roles(*PEOPLE)], status_code=200)
    async def accept_extension(self, yours: Yours, pairing_id: FromPath[str]) -> PairingOut:
        """The other member accepts the proposed extension: the term now ends then."""
        return await yours.answer_extension(pairing_id, accept=True)

    @post("/{pairing_id:str}/extension/decline", guards=[require_roles(*PEOPLE)], status_code=200)
    async def decline_extension(self, yours: Yours, pairing_id: FromPath[str]) -> PairingOut:
        """The other member declines (or the proposer withdraws) the proposed extension."""
        return await yours.answer_extension(pairing_id, accept=False)
