"""Matching rounds: an admin runs a round over every waiting mentee at once (an optimal assignment within
the mentors' capacities, matching/solver.py), reviews it, then sends it: each kept pair becomes a
proposed pairing in one transaction, and both members confirm as for any proposal. A declined proposal
feeds the next round (inputs.py). A round's result is sealed at rest: the parts of its scores are derived
from special-category answers."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.vault import DecryptionError, Vault
from services.sessions.matching import solver
from services.sessions.matching.inputs import gather
from services.sessions.matching.schemas import AssignmentOut, RoundOut, RoundSummary, UnmatchedOut
from services.sessions.matching.service import parts_out
from services.sessions.matching.tables import rounds
from services.sessions.pairings.service import propose_in
from shared.clock import utcnow
from shared.http import Conflict, NotFound, Problem, ServiceUnavailable
from shared.service import AuditedFeature

KIND = "matching-round"
SKIPPED = "left out by the admin"


class Result(msgspec.Struct):
    """The sealed part of a round."""

    total: float
    assignments: list[AssignmentOut]
    unmatched: list[UnmatchedOut]


def _subject(round_id: str) -> str:
    return f"round:{round_id}"


def result_of(found: solver.Round) -> Result:
    return Result(total=found.total, unmatched=[UnmatchedOut(mentee_id=u.mentee, reason=u.reason)
                                                for u in found.unmatched],
                  assignments=[AssignmentOut(mentee_id=a.mentee, mentor_id=a.mentor, total=a.score.total,
                                             parts=parts_out(a.score)) for a in found.assignments])


def _summary(row: Any) -> RoundSummary:
    return RoundSummary(round_id=row.round_id, state=row.state, created_by=row.created_by,
                        created_at=row.created_at, closed_at=row.closed_at)


@dataclass(frozen=True)
class Rounds(AuditedFeature):
    vault: Vault

    async def _seal(self, round_id: str, result: Result) -> dict[str, Any]:
        sealed = await asyncio.to_thread(self.vault.seal_bytes, _subject(round_id), KIND, msgspec.json.encode(result))
        return {"kek_version": sealed.kek_version, "wrapped_dek": sealed.wrapped_dek, "sealed": sealed.ciphertext}

    async def _open(self, row: Any) -> Result:
        try:
            data = await asyncio.to_thread(self.vault.open_bytes, _subject(row.round_id), KIND, row.kek_version,
                                           row.wrapped_dek, row.sealed)
        except DecryptionError:
            raise ServiceUnavailable("This round cannot be opened at the moment.") from None
        return msgspec.json.decode(data, type=Result)

    def _out(self, row: Any, result: Result) -> RoundOut:
        return RoundOut(round_id=row.round_id, state=row.state, created_by=row.created_by, created_at=row.created_at,
                        closed_at=row.closed_at, total=result.total, assignments=result.assignments,
                        unmatched=result.unmatched)

    async def _load(self, conn: AsyncConnection, round_id: str) -> Any:
        row = (await conn.execute(sa.select(rounds).where(rounds.c.round_id == round_id))).first()
        if row is None:
            raise NotFound("No such matching round.")
        return row

    async def run(self) -> RoundOut:
        """A new draft round over every mentee waiting now."""
        round_id = uuid.uuid4().hex
        async with self.runtime.engine.begin() as conn:
            inputs = await gather(conn, self.vault)
            found = await asyncio.to_thread(solver.match_round, inputs.mentees, inputs.mentors, inputs.weights,
                                            inputs.exclusions)
            result = result_of(found)
            await conn.execute(sa.insert(rounds).values(round_id=round_id, state="draft", created_by=self.me.sub,
                                                        created_at=utcnow(), **await self._seal(round_id, result)))
            await self.audit(conn, "matching.round.run", _subject(round_id))
            return self._out(await self._load(conn, round_id), result)

    async def summaries(self) -> list[RoundSummary]:
        async with self.runtime.engine.connect() as conn:
            return [_summary(r) for r in (await conn.execute(sa.select(rounds).order_by(rounds.c.created_at))).all()]

    async def get(self, round_id: str) -> RoundOut:
        async with self.runtime.engine.connect() as conn:
            row = await self._load(conn, round_id)
        return self._out(row, await self._open(row))

    async def _close(self, conn: AsyncConnection, row: Any, state: str, now: datetime, **values: Any) -> None:
        """Draft -> `state`, compare-and-set: two admins cannot both send (or one send, one discard)."""
        if row.state != "draft":
            raise Conflict(f"This round was already {row.state}.")
        done = await conn.execute(sa.update(rounds).where(rounds.c.round_id == row.round_id,
                                                          rounds.c.version == row.version).values(
            state=state, closed_at=now, version=row.version + 1, **values))
        if not done.rowcount:
            raise Conflict("The round changed meanwhile; reload it.")

    async def discard(self, round_id: str) -> RoundOut:
        async with self.runtime.engine.begin() as conn:
            row = await self._load(conn, round_id)
            await self._close(conn, row, "discarded", utcnow())
            await self.audit(conn, "matching.round.discard", _subject(round_id))
            row = await self._load(conn, round_id)
        return self._out(row, await self._open(row))

    async def send(self, round_id: str, skip: list[str]) -> RoundOut:
        """Propose every pair of the round but the skipped ones, in one transaction. A pair that is no longer
        possible (a member suspended, a place taken meanwhile, an open pairing already) is reported, not
        proposed; the others still go."""
        now = utcnow()
        leave_out = set(skip)
        async with self.runtime.engine.begin() as conn:
            row = await self._load(conn, round_id)
            result = await self._open(row)
            if row.state != "draft":
                raise Conflict(f"This round was already {row.state}.")
            sent = [await self._propose(conn, a, leave_out, now) for a in result.assignments]
            result = Result(total=result.total, assignments=sent, unmatched=result.unmatched)
            await self._close(conn, row, "sent", now, **await self._seal(round_id, result))
            await self.audit(conn, "matching.round.send", _subject(round_id))
            return self._out(await self._load(conn, round_id), result)

    async def _propose(self, conn: AsyncConnection, a: AssignmentOut, leave_out: set[str],
                       now: datetime) -> AssignmentOut:
        if a.mentee_id in leave_out:
            return msgspec.structs.replace(a, not_sent=SKIPPED)
        try:
            pairing = await propose_in(conn, self.outbox, self.me, a.mentor_id, a.mentee_id, now)
        except Problem as refused:  # refusals are raised before anything is written
            reason = refused.extra.get("reason") if isinstance(refused.extra, dict) else None
            return msgspec.structs.replace(a, not_sent=str(reason or refused.detail))
        target = f"pairing:{pairing.pairing_id}"
        await self.audit(conn, "pairing.propose", target)
        return msgspec.structs.replace(a, pairing_id=pairing.pairing_id)


