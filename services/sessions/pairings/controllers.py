"""Pairing routes (the gateway exposes them under /api/sessions/pairings)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.meetings.agenda import reclaim as reclaim_shredded
from services.sessions.pairings import service
from services.sessions.pairings.schemas import PairingOut, ProposePairing
from shared.events.types import AuditEntry
from shared.http import ServiceUnavailable, require_roles
from shared.identity import Identity
from shared.outbox import Outbox
from shared.service import Runtime

PEOPLE = ("mentee", "mentor", "admin")
STATE_PATTERN = "^(proposed|active|declined|ended)$"


def _outbox(runtime: Runtime) -> Outbox:
    if runtime.outbox is None:  # pragma: no cover - create_app always configures it
        raise ServiceUnavailable()
    return runtime.outbox


async def _audit(conn: AsyncConnection, runtime: Runtime, identity: Identity, action: str, pairing_id: str) -> None:
    """Who changed which pairing (ids only), staged in the same transaction as the change."""
    target = f"pairing:{pairing_id}"
    await _outbox(runtime).add(conn, AuditEntry(actor=identity.sub, action=action, target=target,
                                                outcome="success"), subject=target)


class PairingController(Controller):
    path = "/pairings"
    tags = ["pairings"]

    @post("/", guards=[require_roles("admin", "mentee")], status_code=201)
    async def propose(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                      data: JSONBody[ProposePairing]) -> PairingOut:
        """An admin proposes a mentor and a mentee, or a mentee requests a vetted mentor."""
        async with runtime.engine.begin() as conn:
            out = await service.propose(conn, _outbox(runtime), identity, data.mentor_id, data.mentee_id,
                                        datetime.now(UTC))
            await _audit(conn, runtime, identity, "pairing.propose", out.pairing_id)
        return out

    @get("/", guards=[require_roles(*PEOPLE)])
    async def list_pairings(
        self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
        state_filter: Annotated[str | None, QueryParameter(name="state", pattern=STATE_PATTERN)] = None,
    ) -> list[PairingOut]:
        """Your pairings (admins: every pairing)."""
        async with runtime.engine.connect() as conn:
            return await service.list_for(conn, identity, state_filter)

    @get("/{pairing_id:str}", guards=[require_roles(*PEOPLE)])
    async def get_pairing(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                          pairing_id: FromPath[str]) -> PairingOut:
        async with runtime.engine.connect() as conn:
            row = await service.load(conn, pairing_id)
            service.visible(row, identity)
            return service.to_out(row)

    @post("/{pairing_id:str}/accept", guards=[require_roles(*PEOPLE)], status_code=200)
    async def accept(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     pairing_id: FromPath[str]) -> PairingOut:
        """A member accepts; the pairing becomes active when both have."""
        async with runtime.engine.begin() as conn:
            out = await service.accept(conn, _outbox(runtime), identity, pairing_id, datetime.now(UTC))
            await _audit(conn, runtime, identity, "pairing.accept", pairing_id)
        return out

    @post("/{pairing_id:str}/decline", guards=[require_roles(*PEOPLE)], status_code=200)
    async def decline(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                      pairing_id: FromPath[str]) -> PairingOut:
        """A member declines a proposal; no reason is asked."""
        async with runtime.engine.begin() as conn:
            out = await service.decline(conn, _outbox(runtime), identity, pairing_id, datetime.now(UTC))
            await _audit(conn, runtime, identity, "pairing.decline", pairing_id)
        return out

    @post("/{pairing_id:str}/end", guards=[require_roles(*PEOPLE)], status_code=200)
    async def end(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                  pairing_id: FromPath[str]) -> PairingOut:
        """A member ends an active pairing at any time; no reason is asked. Live calls are cut."""
        async with runtime.engine.begin() as conn:
            out = await service.end(conn, _outbox(runtime), identity, pairing_id, datetime.now(UTC))
            await _audit(conn, runtime, identity, "pairing.end", pairing_id)
        await reclaim_shredded(runtime.engine)  # the pairing's agenda keys leave the SQLite WAL too
        hub = runtime.extras.get("hub")
        if hub is not None:
            await hub.close_pairing(pairing_id)
        return out
