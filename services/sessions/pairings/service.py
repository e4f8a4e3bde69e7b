"""Pairing lifecycle: proposed → active (both accepted) | declined; active → ended. Either member may
decline or end at any time without a reason. Events go through the outbox in the same transaction."""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.pairings.schemas import PairingOut
from services.sessions.pairings.tables import pairings
from services.sessions.users.service import UserFacts, get_user
from shared.clock import aware, utcnow
from shared.events import types as t
from shared.events.types import AuditEntry
from shared.http import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable, Unprocessable
from shared.identity import ActsForCaller, Identity
from shared.outbox import Outbox
from shared.service import Runtime

OPEN_STATES = ("proposed", "active")
_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


@dataclass(frozen=True)
class PairingEnd:
    """What else ends with a pairing. Pairings knows neither the sessions nor the calls (the context wires
    them): `in_transaction(conn, pairing_id)` runs in the transaction that ends the pairing (its agendas'
    keys are shredded), `after(pairing_id)` once that committed (its live calls are cut)."""

    in_transaction: Callable[[AsyncConnection, str], Awaitable[object]]
    after: Callable[[str], Awaitable[object]]


def to_out(row: Any) -> PairingOut:
    return PairingOut(pairing_id=row.pairing_id, mentor_id=row.mentor_id, mentee_id=row.mentee_id, state=row.state,
                      proposed_by=row.proposed_by, mentor_accepted=row.mentor_accepted_at is not None,
                      mentee_accepted=row.mentee_accepted_at is not None, created_at=aware(row.created_at),
                      activated_at=aware(row.activated_at), closed_at=aware(row.closed_at),
                      term_ends_at=aware(row.term_ends_at), extension_until=aware(row.extension_until),
                      extension_proposed_by=row.extension_by)


def _ineligible(mentor: UserFacts | None, mentee: UserFacts | None) -> str | None:
    """Why this pair cannot be matched, as a code (never more about the person than that)."""
    if mentor is None or "mentor" not in mentor.roles:
        return "mentor-unknown"
    if mentee is None or "mentee" not in mentee.roles:
        return "mentee-unknown"
    if not mentor.vetted:
        return "mentor-not-vetted"
    if mentor.suspended or mentee.suspended:
        return "member-suspended"
    if not mentor.agreements_accepted or not mentee.agreements_accepted:
        return "agreements-not-accepted"
    return None


NOT_ELIGIBLE = "This pairing is not possible at the moment. Your programme admin can tell you more."


def _refuse(identity: Identity, reason: str, detail: str = "This pairing is not allowed.") -> Unprocessable:
    """Admins get the reason's code. Anyone else gets one refusal whatever the reason: the codes would
    tell a mentee whether any user id is suspended, un-vetted or without the agreements."""
    if identity.has("admin"):
        return Unprocessable(detail, slug="pairing-not-eligible", extra={"reason": reason})
    return Unprocessable(NOT_ELIGIBLE, slug="pairing-not-eligible")


async def _check_eligible(conn: AsyncConnection, identity: Identity, mentor_id: str, mentee_id: str) -> None:
    reason = _ineligible(await get_user(conn, mentor_id), await get_user(conn, mentee_id))
    if reason:
        raise _refuse(identity, reason)


async def load(conn: AsyncConnection, pairing_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(pairings).where(pairings.c.pairing_id == pairing_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("No such pairing.")
    return row


def is_member(row: Any, identity: Identity) -> bool:
    return identity.sub in (row.mentor_id, row.mentee_id)


def visible(row: Any, identity: Identity) -> None:
    """Members and admins see a pairing; anyone else gets 404 (not 403: no existence oracle)."""
    if not (is_member(row, identity) or identity.has("admin")):
        raise NotFound("No such pairing.")


async def propose_in(conn: AsyncConnection, outbox: Outbox, identity: Identity, mentor_id: str,
                     mentee_id: str | None, now: datetime) -> PairingOut:
    """A proposal inside the caller's transaction (a matching round sends its pairs in one). Every refusal
    is raised before anything is written, so a caller may catch it and go on in the same transaction."""
    if identity.has("admin"):
        if not mentee_id:
            raise BadRequest("An admin proposal names both mentor_id and mentee_id.")
        mentee_accepted = None
    elif identity.has("mentee"):
        if mentee_id not in (None, identity.sub):
            raise Forbidden("A mentee can only request a mentor for themselves.")
        mentee_id, mentee_accepted = identity.sub, now  # requesting is the mentee's acceptance
    else:
        raise Forbidden("Your role does not allow this.")
    if not _ID.match(mentor_id) or not _ID.match(mentee_id):
        raise BadRequest("Malformed user id.")
    if mentor_id == mentee_id:
        raise _refuse(identity, "same-user", "A pairing needs two people.")
    await _check_eligible(conn, identity, mentor_id, mentee_id)
    existing = (await conn.execute(sa.select(pairings.c.pairing_id).where(
        pairings.c.mentor_id == mentor_id, pairings.c.mentee_id == mentee_id,
        pairings.c.state.in_(OPEN_STATES)))).first()
    if existing:
        raise Conflict("These two already have an open pairing.", extra={"pairing_id": existing.pairing_id})
    pairing_id = uuid.uuid4().hex
    await conn.execute(sa.insert(pairings).values(
        pairing_id=pairing_id, mentor_id=mentor_id, mentee_id=mentee_id, state="proposed",
        proposed_by=identity.sub, mentee_accepted_at=mentee_accepted, created_at=now))
    await outbox.add(conn, t.PairingProposed(pairing_id=pairing_id, mentor_id=mentor_id, mentee_id=mentee_id,
                                             proposed_by=identity.sub), subject=f"pairing:{pairing_id}")
    return to_out(await load(conn, pairing_id))


def add_months(start: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months later (the month's last day when it is shorter)."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


async def transition(conn: AsyncConnection, row: Any, **values: Any) -> None:
    """Compare-and-set on `version`, so two racing requests cannot both win."""
    done = await conn.execute(sa.update(pairings).where(
        pairings.c.pairing_id == row.pairing_id, pairings.c.version == row.version,
    ).values(version=row.version + 1, **values))
    if not done.rowcount:
        raise Conflict("The pairing changed meanwhile; reload and retry.")


async def by_member(conn: AsyncConnection, identity: Identity, pairing_id: str, verb: str, state: str,
                     done: str) -> Any:
    """The pairing (locked) if the caller is one of its two members and it is in `state`; the member is
    about to `verb` it (it would become `done`)."""
    row = await load(conn, pairing_id, for_update=True)
    visible(row, identity)
    if not is_member(row, identity):
        raise Forbidden(f"Only the two members can {verb} a pairing.")
    if row.state != state:
        raise Conflict(f"A pairing in state {row.state} cannot be {done}.")
    return row


async def _accept(conn: AsyncConnection, outbox: Outbox, identity: Identity, pairing_id: str,
                 now: datetime, term_months: int) -> PairingOut:
    row = await by_member(conn, identity, pairing_id, "accept", "proposed", "accepted")
    column = "mentor_accepted_at" if identity.sub == row.mentor_id else "mentee_accepted_at"
    if getattr(row, column) is not None:
        raise Conflict("You have already accepted this pairing.")
    values: dict[str, Any] = {column: now}
    other = "mentee_accepted_at" if column == "mentor_accepted_at" else "mentor_accepted_at"
    activating = getattr(row, other) is not None
    if activating:
        # Re-check at activation: vetting, agreements or suspension may have changed since the proposal.
        await _check_eligible(conn, identity, row.mentor_id, row.mentee_id)
        values.update(state="active", activated_at=now, term_ends_at=add_months(now, term_months))
    await transition(conn, row, **values)
    if activating:
        await outbox.add(conn, t.PairingActivated(pairing_id=pairing_id, mentor_id=row.mentor_id,
                                                  mentee_id=row.mentee_id), subject=f"pairing:{pairing_id}")
    return to_out(await load(conn, pairing_id))


async def _decline(conn: AsyncConnection, outbox: Outbox, identity: Identity, pairing_id: str,
                  now: datetime) -> PairingOut:
    row = await by_member(conn, identity, pairing_id, "decline", "proposed", "declined")
    await transition(conn, row, state="declined", closed_at=now)
    await outbox.add(conn, t.PairingDeclined(pairing_id=pairing_id, mentor_id=row.mentor_id,
                                             mentee_id=row.mentee_id), subject=f"pairing:{pairing_id}")
    return to_out(await load(conn, pairing_id))


async def _end(conn: AsyncConnection, outbox: Outbox, identity: Identity, pairing_id: str, now: datetime,
              ending: PairingEnd) -> PairingOut:
    row = await by_member(conn, identity, pairing_id, "end", "active", "ended")
    await close_in(conn, outbox, row, now, ending)
    return to_out(await load(conn, pairing_id))


async def close_in(conn: AsyncConnection, outbox: Outbox, row: Any, now: datetime, ending: PairingEnd) -> None:
    """An active pairing ends (a member ended it, or its term did): its agendas are shredded in this
    transaction and `pairing.ended` starts the records' retention clocks."""
    await transition(conn, row, state="ended", closed_at=now, extension_until=None, extension_by=None)
    await ending.in_transaction(conn, row.pairing_id)  # an agenda's purpose ends with its pairing
    await outbox.add(conn, t.PairingEnded(pairing_id=row.pairing_id, mentor_id=row.mentor_id,
                                          mentee_id=row.mentee_id, ended_at=now), subject=f"pairing:{row.pairing_id}")


# -- the term (the sweeper that reminds and closes: terms.py) ---------------------------------------

MAX_EXTENSION_MONTHS = 12


def term_event(row: Any, change: str, ends_at: datetime, until: datetime | None = None) -> t.PairingTermChanged:
    return t.PairingTermChanged(pairing_id=row.pairing_id, mentor_id=row.mentor_id, mentee_id=row.mentee_id,
                                change=change, ends_at=ends_at, proposed_until=until)


async def propose_extension(conn: AsyncConnection, outbox: Outbox, identity: Identity, pairing_id: str,
                            until: datetime, now: datetime) -> PairingOut:
    row = await by_member(conn, identity, pairing_id, "extend", "active", "extended")
    if row.term_ends_at is None:
        raise Conflict("This pairing has no fixed term to extend.")
    if until.tzinfo is None:
        raise Unprocessable("Give the new end with its time zone.", slug="extension-invalid")
    ends = aware(row.term_ends_at)
    if not ends < until <= add_months(ends, MAX_EXTENSION_MONTHS):
        raise Unprocessable(f"An extension ends after the current term and at most {MAX_EXTENSION_MONTHS} months "
                            "later.", slug="extension-invalid")
    await transition(conn, row, extension_until=until, extension_by=identity.sub)
    await outbox.add(conn, term_event(row, "extension_proposed", ends, until), subject=f"pairing:{pairing_id}")
    return to_out(await load(conn, pairing_id))


async def answer_extension(conn: AsyncConnection, outbox: Outbox, identity: Identity, pairing_id: str,
                           accept: bool, now: datetime) -> PairingOut:
    """The other member accepts (the term ends later) or declines; the proposer may withdraw (decline)."""
    row = await by_member(conn, identity, pairing_id, "answer an extension of", "active", "extended")
    if row.extension_until is None:
        raise Conflict("No extension is waiting for an answer.")
    if accept and row.extension_by == identity.sub:
        raise Conflict("The other member accepts an extension you proposed.")
    if accept:
        await transition(conn, row, term_ends_at=row.extension_until, term_reminded_at=None,
                          extension_until=None, extension_by=None)
        event = term_event(row, "extended", row.extension_until)
    else:
        await transition(conn, row, extension_until=None, extension_by=None)
        event = term_event(row, "extension_declined", row.term_ends_at, row.extension_until)
    await outbox.add(conn, event, subject=f"pairing:{pairing_id}")
    return to_out(await load(conn, pairing_id))


Change = Callable[[AsyncConnection, Outbox, datetime], Awaitable[PairingOut]]


@dataclass(frozen=True)
class Pairings(ActsForCaller):
    """The pairing routes' work for one caller: each change in one transaction with its events and its
    audit entry."""

    runtime: Runtime
    ending: PairingEnd
    term_months: int = 6

    async def _change(self, action: str, change: Change) -> PairingOut:
        """Apply `change` and stage who made it (ids only) in the same transaction."""
        outbox = self.runtime.outbox
        if outbox is None:  # pragma: no cover - create_app always configures it
            raise ServiceUnavailable()
        now = utcnow()
        async with self.runtime.engine.begin() as conn:
            out = await change(conn, outbox, now)
            target = f"pairing:{out.pairing_id}"
            await outbox.add(conn, AuditEntry(actor=self.me.sub, action=action, target=target, outcome="success"),
                             subject=target)
        return out

    async def propose(self, mentor_id: str, mentee_id: str | None) -> PairingOut:
        """An admin proposes a mentor and a mentee, or a mentee requests a vetted mentor."""
        return await self._change("pairing.propose", lambda conn, outbox, now: propose_in(
            conn, outbox, self.me, mentor_id, mentee_id, now))

    async def accept(self, pairing_id: str) -> PairingOut:
        return await self._change("pairing.accept", lambda conn, outbox, now: _accept(
            conn, outbox, self.me, pairing_id, now, self.term_months))

    async def decline(self, pairing_id: str) -> PairingOut:
        return await self._change("pairing.decline", lambda conn, outbox, now: _decline(
            conn, outbox, self.me, pairing_id, now))

    async def end(self, pairing_id: str) -> PairingOut:
        """The pairing's agendas are shredded with it; once that committed, its live calls are cut."""
        out = await self._change("pairing.end", lambda conn, outbox, now: _end(
            conn, outbox, self.me, pairing_id, now, self.ending))
        await self.ending.after(pairing_id)
        return out

    async def propose_extension(self, pairing_id: str, until: datetime) -> PairingOut:
        return await self._change("pairing.extension_propose", lambda conn, outbox, now: propose_extension(
            conn, outbox, self.me, pairing_id, until, now))

    async def answer_extension(self, pairing_id: str, *, accept: bool) -> PairingOut:
        return await self._change(
            "pairing.extension_accept" if accept else "pairing.extension_decline",
            lambda conn, outbox, now: answer_extension(conn, outbox, self.me, pairing_id, accept, now))

    async def get(self, pairing_id: str) -> PairingOut:
        async with self.runtime.engine.connect() as conn:
            row = await load(conn, pairing_id)
        visible(row, self.me)
        return to_out(row)

    async def list_for(self, state: str | None) -> list[PairingOut]:
        query = sa.select(pairings).order_by(pairings.c.created_at)
        if not self.me.has("admin"):
            mine = self.me.sub
            query = query.where(sa.or_(pairings.c.mentor_id == mine, pairings.c.mentee_id == mine))
        if state:
            query = query.where(pairings.c.state == state)
        async with self.runtime.engine.connect() as conn:
            return [to_out(r) for r in (await conn.execute(query)).all()]
