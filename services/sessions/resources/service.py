"""Programme resources: admins publish, change and withdraw guides, templates and policies; everyone in
the programme reads them (in their order, then by title)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.resources.schemas import ResourceIn, ResourceOut
from services.sessions.resources.tables import resources
from shared.clock import aware, utcnow
from shared.http import BadRequest, NotFound
from shared.service import AuditedFeature


def to_out(row: Any) -> ResourceOut:
    return ResourceOut(resource_id=row.resource_id, kind=row.kind, language=row.language, title=row.title,
                       summary=row.summary, body=row.body, url=row.url, position=row.position,
                       updated_at=aware(row.updated_at))


def _values(data: ResourceIn) -> dict[str, Any]:
    title = data.title.strip()
    if not title:
        raise BadRequest("A resource needs a title.")
    if not data.body.strip() and not data.url:
        raise BadRequest("A resource has a text, a link, or both.")
    return {"kind": data.kind, "language": data.language, "title": title, "summary": data.summary.strip(),
            "body": data.body.strip(), "url": data.url, "position": data.position}


@dataclass(frozen=True)
class Resources(AuditedFeature):
    """The resource routes' work for one caller."""

    async def _one(self, conn: AsyncConnection, resource_id: str) -> Any:
        row = (await conn.execute(sa.select(resources).where(resources.c.resource_id == resource_id))).first()
        if row is None:
            raise NotFound("No such resource.")
        return row

    async def all(self) -> list[ResourceOut]:
        query = sa.select(resources).order_by(resources.c.position, resources.c.title, resources.c.resource_id)
        async with self.runtime.engine.connect() as conn:
            return [to_out(r) for r in (await conn.execute(query)).all()]

    async def publish(self, data: ResourceIn) -> ResourceOut:
        resource_id = uuid.uuid4().hex
        async with self.runtime.engine.begin() as conn:
            await conn.execute(sa.insert(resources).values(resource_id=resource_id, updated_by=self.me.sub,
                                                           updated_at=utcnow(), **_values(data)))
            await self.audit(conn, "resource.publish", f"resource:{resource_id}")
            return to_out(await self._one(conn, resource_id))

    async def change(self, resource_id: str, data: ResourceIn) -> ResourceOut:
        async with self.runtime.engine.begin() as conn:
            await self._one(conn, resource_id)
            await conn.execute(sa.update(resources).where(resources.c.resource_id == resource_id).values(
                updated_by=self.me.sub, updated_at=utcnow(), **_values(data)))
            await self.audit(conn, "resource.change", f"resource:{resource_id}")
            return to_out(await self._one(conn, resource_id))

    async def withdraw(self, resource_id: str) -> None:
        async with self.runtime.engine.begin() as conn:
            await self._one(conn, resource_id)
            await conn.execute(sa.delete(resources).where(resources.c.resource_id == resource_id))
            await self.audit(conn, "resource.withdraw", f"resource:{resource_id}")
