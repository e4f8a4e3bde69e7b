"""Check-ins (issue 17, item 5): where the programme turns them on, admins schedule a regular short check-in
with a member (every N weeks); the member answers the one that is due (the comment sealed); admins alone
read the answers (the member their own), see which plans are overdue and which answers need attention,
and acknowledge those. Each change is one transaction with its audit entry (ids only, never the comment).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.vault import DecryptionError, Sealed, Vault
from services.sessions.checkins.schemas import (
    AnswerIn,
    AnswerOut,
    ChangePlan,
    CreatePlan,
    MyAnswerOut,
    MyCheckin,
    PlanOut,
    SettingsIn,
    SettingsOut,
)
from services.sessions.checkins.tables import DEFAULT_EVERY_WEEKS, DEFAULT_GRACE_DAYS, SETTINGS_ROW, answers, plans
from services.sessions.checkins.tables import settings as settings_table
from services.sessions.users.service import get_user
from shared.clock import aware, utcnow
from shared.http import BadRequest, Conflict, NotFound, Unprocessable
from shared.logging import get_logger
from shared.service import AuditedFeature

log = get_logger("tandem.sessions.checkins")

RAISE_CONCERN_PATH = "/#/concern"  # the web app's page for raising a concern (identified or anonymous)
KIND = "checkin"  # the sealed comment's kind; its subject is "checkin:<checkin_id>"
OFF = "check-ins are off in this programme"
MEMBER_ROLES = frozenset({"mentor", "mentee"})
MAX_AHEAD = timedelta(days=365)  # a first (or moved) due date is at most a year ahead
MAX_BEHIND = timedelta(days=1)  # and at most a day ago (a date picked "today" in another time zone)
_USER_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")
_CHECKIN_ID = re.compile(r"^[0-9a-f]{32}$")


def subject(checkin_id: str) -> str:
    return f"checkin:{checkin_id}"


def needs_attention(data: AnswerIn) -> bool:
    """An answer an admin should look at: the member is uncomfortable, asks to be contacted, or the
    mentorship is not progressing."""
    return data.uncomfortable or data.wants_contact or data.progressing == "no"


def next_after(due: datetime, every_weeks: int, now: datetime) -> datetime:
    """The due date after `due`, `every_weeks` apart, skipping the periods already fully past: the first
    one after `now`."""
    period = timedelta(weeks=every_weeks)
    following = due + period
    if following <= now:
        following += period * ((now - following) // period + 1)
    return following


def _due_date(value: datetime, now: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise BadRequest(f"{name} needs a time zone offset.")
    value = value.astimezone(UTC)
    if value > now + MAX_AHEAD:
        raise BadRequest(f"{name} is at most a year ahead.")
    if value < now - MAX_BEHIND:
        raise BadRequest(f"{name} is at most a day in the past.")
    return value


def _user_id(user_id: str) -> str:
    if not _USER_ID.match(user_id):
        raise BadRequest("Malformed user id.")
    return user_id


async def programme(conn: AsyncConnection) -> SettingsOut:
    """The programme's setting (the defaults, off, when the row is missing)."""
    row = (await conn.execute(sa.select(settings_table).where(settings_table.c.id == SETTINGS_ROW))).first()
    if row is None:
        return SettingsOut(enabled=False, default_every_weeks=DEFAULT_EVERY_WEEKS, grace_days=DEFAULT_GRACE_DAYS)
    return SettingsOut(enabled=row.enabled, default_every_weeks=row.default_every_weeks, grace_days=row.grace_days)


@dataclass(frozen=True)
class Summary:
    """What a member's answers add to their plan in the admins' list."""

    last_answered_at: datetime | None = None
    attention: bool = False


async def _summaries(conn: AsyncConnection, user_id: str | None = None) -> dict[str, Summary]:
    waiting = sa.and_(answers.c.needs_attention.is_(True), answers.c.acknowledged_at.is_(None))
    query = sa.select(answers.c.user_id, sa.func.max(answers.c.answered_at).label("last"),
                      sa.func.max(sa.case((waiting, 1), else_=0)).label("attention")).group_by(answers.c.user_id)
    if user_id is not None:
        query = query.where(answers.c.user_id == user_id)
    return {r.user_id: Summary(aware(r.last), bool(r.attention)) for r in (await conn.execute(query)).all()}


def _plan_out(row: Any, summary: Summary, prog: SettingsOut, now: datetime) -> PlanOut:
    due_at = aware(row.next_due_at)
    overdue = prog.enabled and now > due_at + timedelta(days=prog.grace_days)
    return PlanOut(user_id=row.user_id, every_weeks=row.every_weeks, next_due_at=due_at,
                   last_answered_at=summary.last_answered_at, due=now >= due_at, overdue=overdue,
                   overdue_days=(now - due_at).days if overdue else 0, attention=summary.attention,
                   created_by=row.created_by, created_at=aware(row.created_at), updated_at=aware(row.updated_at))


def _sealed(row: Any) -> Sealed | None:
    if row.sealed is None:
        return None
    return Sealed(row.kek_version, row.wrapped_dek, row.sealed)


def _open_all(vault: Vault, rows: list[Any]) -> dict[str, str | None]:
    comments: dict[str, str | None] = {}
    for row in rows:
        sealed = _sealed(row)
        comment = None
        if sealed is not None:
            try:
                opened = vault.open_json(subject(row.checkin_id), KIND, sealed)
                comment = opened if isinstance(opened, str) else None
            except DecryptionError:
                # Tampered row, retired KEK or another keyring's key: no comment, and which answer (ids only).
                log.warning("checkins.comment_unreadable", checkin_id=row.checkin_id)
        comments[row.checkin_id] = comment
    return comments


async def _comments(vault: Vault, rows: Iterable[Any]) -> dict[str, str | None]:
    """Plaintext comments by check-in id, opened in one worker-thread hop. Call only for admins or the author."""
    todo = list(rows)
    if not any(r.sealed is not None for r in todo):
        return {r.checkin_id: None for r in todo}
    return await asyncio.to_thread(_open_all, vault, todo)


def _my_answer(row: Any, comment: str | None, next_due_at: datetime | None = None) -> MyAnswerOut:
    return MyAnswerOut(checkin_id=row.checkin_id, due_at=aware(row.due_at), answered_at=aware(row.answered_at),
                       progressing=row.progressing, uncomfortable=row.uncomfortable, wants_contact=row.wants_contact,
                       comment=comment, next_due_at=next_due_at)


def _answer(row: Any, comment: str | None) -> AnswerOut:
    return AnswerOut(checkin_id=row.checkin_id, user_id=row.user_id, due_at=aware(row.due_at),
                     answered_at=aware(row.answered_at), progressing=row.progressing,
                     uncomfortable=row.uncomfortable, wants_contact=row.wants_contact, comment=comment,
                     needs_attention=row.needs_attention, acknowledged_by=row.acknowledged_by,
                     acknowledged_at=aware(row.acknowledged_at))


async def _load_plan(conn: AsyncConnection, user_id: str) -> Any:
    row = (await conn.execute(sa.select(plans).where(plans.c.user_id == user_id))).first()
    if row is None:
        raise NotFound("No check-in plan for this member.")
    return row


async def _load_answer(conn: AsyncConnection, checkin_id: str) -> Any:
    row = None
    if _CHECKIN_ID.match(checkin_id):
        row = (await conn.execute(sa.select(answers).where(answers.c.checkin_id == checkin_id))).first()
    if row is None:
        raise NotFound("No such check-in answer.")
    return row


@dataclass(frozen=True)
class Checkins(AuditedFeature):
    """The check-in routes' work for one caller."""

    vault: Vault

    # -- the programme's setting -----------------------------------------------------------------------

    async def settings(self) -> SettingsOut:
        async with self.runtime.engine.connect() as conn:
            return await programme(conn)

    async def set_settings(self, data: SettingsIn) -> SettingsOut:
        values = {"enabled": data.enabled, "default_every_weeks": data.default_every_weeks,
                  "grace_days": data.grace_days, "updated_by": self.me.sub, "updated_at": utcnow()}
        try:
            async with self.runtime.engine.begin() as conn:
                done = await conn.execute(sa.update(settings_table).where(settings_table.c.id == SETTINGS_ROW)
                                          .values(**values))
                if not done.rowcount:
                    await conn.execute(sa.insert(settings_table).values(id=SETTINGS_ROW, **values))
                await self.audit(conn, "checkins.settings_change", "checkins:settings")
                return await programme(conn)
        except IntegrityError:
            raise Conflict("The setting changed meanwhile; reload and retry.") from None

    # -- plans (admins) --------------------------------------------------------------------------------

    async def create_plan(self, data: CreatePlan) -> PlanOut:
        now = utcnow()
        first_due = _due_date(data.first_due_at, now, "first_due_at")
        try:
            async with self.runtime.engine.begin() as conn:
                prog = await programme(conn)
                if not prog.enabled:
                    raise Conflict(OFF, slug="checkins-off")
                user = await get_user(conn, data.user_id)
                if user is None or not user.roles & MEMBER_ROLES:
                    raise Unprocessable("Check-ins are with mentors and mentees: no such member.",
                                        slug="not-a-member")
                if (await conn.execute(sa.select(plans.c.user_id).where(plans.c.user_id == data.user_id))).first():
                    raise Conflict("This member already has a check-in plan: change it instead.")
                await conn.execute(sa.insert(plans).values(
                    user_id=data.user_id, every_weeks=data.every_weeks or prog.default_every_weeks,
                    next_due_at=first_due, created_by=self.me.sub, created_at=now, updated_at=now))
                await self.audit(conn, "checkin_plan.create", f"checkin-plan:{data.user_id}")
                row = await _load_plan(conn, data.user_id)
                return _plan_out(row, (await _summaries(conn, data.user_id)).get(data.user_id, Summary()), prog, now)
        except IntegrityError:
            raise Conflict("This member already has a check-in plan: change it instead.") from None

    async def change_plan(self, user_id: str, data: ChangePlan) -> PlanOut:
        now = utcnow()
        user_id = _user_id(user_id)
        values: dict[str, Any] = {"every_weeks": data.every_weeks, "updated_at": now}
        if data.next_due_at is not None:
            values["next_due_at"] = _due_date(data.next_due_at, now, "next_due_at")
        async with self.runtime.engine.begin() as conn:
            row = await _load_plan(conn, user_id)
            done = await conn.execute(sa.update(plans).where(
                plans.c.user_id == user_id, plans.c.version == row.version).values(version=row.version + 1, **values))
            if not done.rowcount:
                raise Conflict("The plan changed meanwhile; reload and retry.")
            await self.audit(conn, "checkin_plan.change", f"checkin-plan:{user_id}")
            row = await _load_plan(conn, user_id)
            return _plan_out(row, (await _summaries(conn, user_id)).get(user_id, Summary()),
                             await programme(conn), now)

    async def delete_plan(self, user_id: str) -> None:
        """No more check-ins with this member; their past answers stay."""
        user_id = _user_id(user_id)
        async with self.runtime.engine.begin() as conn:
            done = await conn.execute(sa.delete(plans).where(plans.c.user_id == user_id))
            if not done.rowcount:
                raise NotFound("No check-in plan for this member.")
            await self.audit(conn, "checkin_plan.delete", f"checkin-plan:{user_id}")

    async def list_plans(self) -> list[PlanOut]:
        """Every plan, the soonest due first, with overdue and attention flags."""
        now = utcnow()
        async with self.runtime.engine.connect() as conn:
            prog = await programme(conn)
            summaries = await _summaries(conn)
            rows = (await conn.execute(sa.select(plans).order_by(plans.c.next_due_at, plans.c.user_id))).all()
        return [_plan_out(r, summaries.get(r.user_id, Summary()), prog, now) for r in rows]

    # -- members ---------------------------------------------------------------------------------------

    async def mine(self) -> MyCheckin:
        now = utcnow()
        async with self.runtime.engine.connect() as conn:
            prog = await programme(conn)
            row = (await conn.execute(sa.select(plans).where(plans.c.user_id == self.me.sub))).first()
        if row is None:
            return MyCheckin(enabled=prog.enabled, has_plan=False, every_weeks=None, next_due_at=None, due=False,
                             raise_concern_path=RAISE_CONCERN_PATH)
        due_at = aware(row.next_due_at)
        return MyCheckin(enabled=prog.enabled, has_plan=True, every_weeks=row.every_weeks, next_due_at=due_at,
                         due=prog.enabled and now >= due_at, raise_concern_path=RAISE_CONCERN_PATH)

    async def answer(self, data: AnswerIn) -> MyAnswerOut:
        """Answer the check-in that is due; the next one is due `every_weeks` after it (the first in the
        future). The comment is sealed before the transaction."""
        checkin_id = uuid.uuid4().hex
        comment = data.comment or None
        sealed = None
        if comment is not None:
            sealed = await asyncio.to_thread(self.vault.seal_json, subject(checkin_id), KIND, comment)
        now = utcnow()
        async with self.runtime.engine.begin() as conn:
            if not (await programme(conn)).enabled:
                raise Conflict(OFF, slug="checkins-off")
            plan = (await conn.execute(sa.select(plans).where(plans.c.user_id == self.me.sub))).first()
            if plan is None or now < aware(plan.next_due_at):
                raise Conflict("No check-in is due for you now.", slug="no-checkin-due")
            due_at = aware(plan.next_due_at)
            following = next_after(due_at, plan.every_weeks, now)
            done = await conn.execute(sa.update(plans).where(
                plans.c.user_id == self.me.sub, plans.c.version == plan.version,
            ).values(next_due_at=following, version=plan.version + 1))
            if not done.rowcount:
                raise Conflict("Your check-in changed meanwhile; reload and retry.")
            await conn.execute(sa.insert(answers).values(
                checkin_id=checkin_id, user_id=self.me.sub, due_at=due_at, answered_at=now,
                progressing=data.progressing, uncomfortable=data.uncomfortable, wants_contact=data.wants_contact,
                needs_attention=needs_attention(data),
                kek_version=sealed.kek_version if sealed else None, wrapped_dek=sealed.wrapped_dek if sealed else None,
                sealed=sealed.ciphertext if sealed else None))
            await self.audit(conn, "checkin.answer", subject(checkin_id))
            row = await _load_answer(conn, checkin_id)
        log.info("checkins.answered", checkin_id=checkin_id)
        return _my_answer(row, comment, following)

    async def my_answers(self) -> list[MyAnswerOut]:
        async with self.runtime.engine.connect() as conn:
            rows = (await conn.execute(sa.select(answers).where(answers.c.user_id == self.me.sub)
                                       .order_by(answers.c.due_at, answers.c.answered_at))).all()
        comments = await _comments(self.vault, rows)
        return [_my_answer(r, comments[r.checkin_id]) for r in rows]

    # -- answers (admins) ------------------------------------------------------------------------------

    async def answers_of(self, user_id: str) -> list[AnswerOut]:
        user_id = _user_id(user_id)
        async with self.runtime.engine.connect() as conn:
            rows = (await conn.execute(sa.select(answers).where(answers.c.user_id == user_id)
                                       .order_by(answers.c.due_at, answers.c.answered_at))).all()
        comments = await _comments(self.vault, rows)
        return [_answer(r, comments[r.checkin_id]) for r in rows]

    async def acknowledge(self, checkin_id: str) -> AnswerOut:
        """An admin has seen an answer that needed attention: its member's plan is no longer flagged for it."""
        now = utcnow()
        async with self.runtime.engine.begin() as conn:
            row = await _load_answer(conn, checkin_id)
            if not row.needs_attention:
                raise Conflict("This answer needs no acknowledgement.")
            done = await conn.execute(sa.update(answers).where(
                answers.c.checkin_id == checkin_id, answers.c.acknowledged_at.is_(None),
            ).values(acknowledged_by=self.me.sub, acknowledged_at=now))
            if not done.rowcount:
                raise Conflict("This answer has already been acknowledged.")
            await self.audit(conn, "checkin.acknowledge", subject(checkin_id))
            row = await _load_answer(conn, checkin_id)
        return _answer(row, (await _comments(self.vault, [row]))[checkin_id])
