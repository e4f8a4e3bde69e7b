"""Programme agreements (code of practice, confidentiality): published in versions by admins, accepted by
everyone. Publishing a version makes everyone's acceptance stale; the other services hear who qualifies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.gateway.accounts.tables import agreement_acceptances, agreements, users
from services.gateway.accounts.users import Users, at, iso
from shared.audit import Auditor
from shared.events.types import UserAgreementsChanged
from shared.http import BadRequest, Conflict, NotFound

AGREEMENT_KINDS = ("code_of_practice", "confidentiality")


async def current_agreement_ids(conn: AsyncConnection) -> list[str]:
    """The latest version of each kind."""
    latest = sa.select(agreements.c.kind, sa.func.max(agreements.c.version).label("v")) \
        .group_by(agreements.c.kind).subquery()
    rows = await conn.execute(sa.select(agreements.c.id).join(
        latest, sa.and_(agreements.c.kind == latest.c.kind, agreements.c.version == latest.c.v)))
    return [r.id for r in rows]


def _checked(kind: str, title: str, body: str) -> str:
    """The title of a new version, once kind, title and text are acceptable."""
    if kind not in AGREEMENT_KINDS:
        raise BadRequest(f"Kind must be one of {', '.join(AGREEMENT_KINDS)}.", slug="invalid-kind")
    if not title.strip() or not body.strip():
        raise BadRequest("Title and text are required.", slug="invalid-agreement")
    return title.strip()


@dataclass(eq=False)
class Agreements:
    """Publishing versions, and each user's acceptance of the current ones."""

    users: Users
    audit: Auditor

    async def publish(self, actor: str, kind: str, title: str, body: str) -> dict[str, Any]:
        title = _checked(kind, title, body)
        now = at(self.users.clock)
        agreement_id = uuid.uuid4().hex
        async with self.users.engine.begin() as conn:
            version = (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(agreements.c.version), 0))
                                          .where(agreements.c.kind == kind))).scalar_one() + 1
            await conn.execute(sa.insert(agreements).values(id=agreement_id, kind=kind, version=version,
                                                            title=title, body=body, published_by=actor,
                                                            published_at=now))
            # Everyone must accept the new version: tell the other services who no longer qualifies.
            stale = [r.id for r in await conn.execute(sa.select(users.c.id).where(users.c.agreements_current))]
            await conn.execute(sa.update(users).where(users.c.agreements_current).values(agreements_current=False))
            for uid in stale:
                await self.users.outbox.add(conn, UserAgreementsChanged(user_id=uid, accepted_current=False),
                                            subject=f"user:{uid}")
        await self.audit(actor, "agreement.publish", f"agreement:{agreement_id}", "success")
        return {"id": agreement_id, "kind": kind, "version": version, "title": title,
                "published_at": now.isoformat()}

    async def current_for(self, user_id: str | None) -> list[dict[str, Any]]:
        """The current version of each agreement, with `user_id`'s acceptance (if any)."""
        async with self.users.engine.connect() as conn:
            current = set(await current_agreement_ids(conn))
            rows = (await conn.execute(sa.select(agreements).where(agreements.c.id.in_(current))
                                       .order_by(agreements.c.kind))).mappings().all()
            accepted: dict[str, Any] = {}
            if user_id:
                accepted = {r.agreement_id: r.accepted_at for r in await conn.execute(
                    sa.select(agreement_acceptances).where(agreement_acceptances.c.user_id == user_id))}
        return [{"id": r["id"], "kind": r["kind"], "version": r["version"], "title": r["title"], "body": r["body"],
                 "published_at": iso(r["published_at"]), "accepted_at": iso(accepted.get(r["id"]))} for r in rows]

    async def accept(self, user_id: str, agreement_id: str) -> bool:
        """Record the acceptance; returns whether every current agreement is now accepted."""
        now = at(self.users.clock)
        async with self.users.engine.begin() as conn:
            current = await current_agreement_ids(conn)
            if agreement_id not in current:
                exists = (await conn.execute(sa.select(agreements.c.id).where(agreements.c.id == agreement_id))).first()
                if exists is None:
                    raise NotFound("No such agreement.")
                raise Conflict("A newer version of this agreement exists: accept that one.", slug="agreement-outdated")
            done = (await conn.execute(sa.select(agreement_acceptances.c.agreement_id).where(
                agreement_acceptances.c.user_id == user_id,
                agreement_acceptances.c.agreement_id == agreement_id))).first()
            if done is None:
                await conn.execute(sa.insert(agreement_acceptances).values(user_id=user_id, agreement_id=agreement_id,
                                                                           accepted_at=now))
            accepted = {r.agreement_id for r in await conn.execute(
                sa.select(agreement_acceptances.c.agreement_id).where(agreement_acceptances.c.user_id == user_id))}
            all_current = set(current) <= accepted
            row = (await conn.execute(sa.select(users.c.agreements_current).where(users.c.id == user_id))).one()
            if all_current != row.agreements_current:
                await conn.execute(sa.update(users).where(users.c.id == user_id)
                                   .values(agreements_current=all_current, updated_at=now))
                await self.users.outbox.add(conn, UserAgreementsChanged(user_id=user_id, accepted_current=all_current),
                                            subject=f"user:{user_id}")
        if done is None:
            await self.audit(user_id, "agreement.accept", f"agreement:{agreement_id}", "success")
        return all_current
