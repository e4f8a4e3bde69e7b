"""Pairing lifecycle: proposed → active (both accepted) | declined; active → ended. Either member may
decline or end at any time without a reason. Events go through the outbox in the same transaction."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.db import pairings
from services.sessions.meetings.agenda import shred_pairing as shred_pairing_agendas
from services.sessions.pairings.schemas import PairingOut
from services.sessions.users.service import UserFacts, get_user
from shared.events import types as t
from shared.http import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from shared.identity import Identity
from shared.outbox import Outbox

OPEN_STATES = ("proposed", "active")
_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


def to_out(row: Any) -> PairingOut:
    return PairingOut(pairing_id=row.pairing_id, mentor_id=row.mentor_id, mentee_id=row.mentee_id, state=row.state,
                      proposed_by=row.proposed_by, mentor_accepted=row.mentor_accepted_at is not None,
                      mentee_accepted=row.mentee_accepted_at is not None, created_at=row.created_at,
                      activated_at=row.activated_at, closed_at=row.closed_at)


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


async def propose(conn: AsyncConnection, outbox: Outbox, identity: Identity, mentor_id: str,
                  mentee_id: str | None, now: datetime) -> PairingOut:
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


async def _transition(conn: AsyncConnection, row: Any, **values: Any) -> None:
    """Compare-and-set on `version`, so two racing requests cannot both win."""
    done = await conn.execute(sa.update(pairings).where(
        pairings.c.pairing_id == row.pairing_id, pairings.c.version == row.version,
    ).values(version=row.version + 1, **values))
    if not done.rowcount:
        raise Conflict("The pairing changed meanwhile; reload and retry.")


async def accept(conn: AsyncConnection, outbox: Outbox, identity: Identity, pairing_id: str,
                 now: datetime) -> PairingOut:
    row = await load(conn, pairing_id, for_update=True)
    visible(row, identity)
    if not is_member(row, identity):
        raise Forbidden("Only the two members can accept a pairing.")
    if row.state != "proposed":
        raise Conflict(f"A pairing in state {row.state} cannot be accepted.")
    column = "mentor_accepted_at" if identity.sub == row.mentor_id else "mentee_accepted_at"
    if getattr(row, column) is not None:
        raise Conflict("You have already accepted this pairing.")
    values: dict[str, Any] = {column: now}
    other = "mentee_accepted_at" if column == "mentor_accepted_at" else "mentor_accepted_at"
    activating = getattr(row, other) is not None
    if activating:
        # Re-check at activation: vetting, agreements or suspension may have changed since the proposal.
        await _check_eligible(conn, identity, row.mentor_id, row.mentee_id)
        values.update(state="active", activated_at=now)
    await _transition(conn, row, **values)
    if activating:
        await outbox.add(conn, t.PairingActivated(pairing_id=pairing_id, mentor_id=row.mentor_id,
                                                  mentee_id=row.mentee_id), subject=f"pairing:{pairing_id}")
    return to_out(await load(conn, pairing_id))


async def decline(conn: AsyncConnection, outbox: Outbox, identity: Identity, pairing_id: str,
                  now: datetime) -> PairingOut:
    row = await load(conn, pairing_id, for_update=True)
    visible(row, identity)
    if not is_member(row, identity):
        raise Forbidden("Only the two members can decline a pairing.")
    if row.state != "proposed":
        raise Conflict(f"A pairing in state {row.state} cannot be declined.")
    await _transition(conn, row, state="declined", closed_at=now)
    await outbox.add(conn, t.PairingDeclined(pairing_id=pairing_id, mentor_id=row.mentor_id,
                                             mentee_id=row.mentee_id), subject=f"pairing:{pairing_id}")
    return to_out(await load(conn, pairing_id))


async def end(conn: AsyncConnection, outbox: Outbox, identity: Identity, pairing_id: str,
              now: datetime) -> PairingOut:
    row = await load(conn, pairing_id, for_update=True)
    visible(row, identity)
    if not is_member(row, identity):
        raise Forbidden("Only the two members can end a pairing.")
    if row.state != "active":
        raise Conflict(f"A pairing in state {row.state} cannot be ended.")
    await _transition(conn, row, state="ended", closed_at=now)
    await shred_pairing_agendas(conn, pairing_id)  # an agenda's purpose ends with its pairing
    await outbox.add(conn, t.PairingEnded(pairing_id=pairing_id, mentor_id=row.mentor_id, mentee_id=row.mentee_id,
                                          ended_at=now), subject=f"pairing:{pairing_id}")
    return to_out(await load(conn, pairing_id))


async def list_for(conn: AsyncConnection, identity: Identity, state: str | None) -> list[PairingOut]:
    query = sa.select(pairings).order_by(pairings.c.created_at)
    if not identity.has("admin"):
        query = query.where(sa.or_(pairings.c.mentor_id == identity.sub, pairings.c.mentee_id == identity.sub))
    if state:
        query = query.where(pairings.c.state == state)
    return [to_out(r) for r in (await conn.execute(query)).all()]
