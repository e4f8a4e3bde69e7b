"""The programme's agreement template: sections {key, title, guidance} the pair fill in together. Admins
publish new versions (kept); before the first one the built-in default below is version 0."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.mentoring_agreement.schemas import TemplateOut, TemplateSection
from services.sessions.mentoring_agreement.tables import agreement_templates
from shared.clock import aware

DEFAULT_SECTIONS: tuple[TemplateSection, ...] = (
    TemplateSection("meetings", "How often and how we meet",
                    "How often you will meet, for how long, and how: in person, by video call or by phone."),
    TemplateSection("scope", "What the mentoring covers",
                    "The goals and topics you agree to work on together."),
    TemplateSection("out_of_scope", "What is out of scope",
                    "What mentoring is not for: for example clinical supervision, line management, "
                    "appraisal, or personal therapy."),
    TemplateSection("contact", "Contact between sessions",
                    "Whether and how you may contact each other between sessions, and how soon to expect a reply."),
    TemplateSection("confidentiality", "Confidentiality and when information may be shared",
                    "What stays between you, and when information must be shared: a risk of harm to the mentee "
                    "or to others, patient safety, or a legal duty. Say who would be told and how."),
    TemplateSection("next_meeting", "Who sets the next meeting",
                    "Who proposes and books the next session, and by when."),
    TemplateSection("conflicts", "Conflicts of interest",
                    "Any relationship or role that could affect the mentoring (for example working in the same "
                    "team, or one assessing the other), and what you will do if one arises."),
)


@dataclass(frozen=True)
class Template:
    version: int
    sections: tuple[TemplateSection, ...]
    published_by: str | None = None
    published_at: datetime | None = None

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(s.key for s in self.sections)

    def out(self) -> TemplateOut:
        return TemplateOut(version=self.version, sections=list(self.sections), published_by=self.published_by,
                           published_at=self.published_at)


DEFAULT = Template(version=0, sections=DEFAULT_SECTIONS)


def _from_row(row: Any) -> Template:
    sections = tuple(TemplateSection(s["key"], s["title"], s.get("guidance", "")) for s in json.loads(row.sections))
    return Template(version=row.version, sections=sections, published_by=row.published_by,
                    published_at=aware(row.published_at))


async def current(conn: AsyncConnection) -> Template:
    """The programme's template now: the latest published, or the built-in default."""
    row = (await conn.execute(sa.select(agreement_templates).order_by(agreement_templates.c.version.desc())
                              .limit(1))).first()
    return DEFAULT if row is None else _from_row(row)


async def at(conn: AsyncConnection, version: int) -> Template:
    """Template `version` (0: the built-in default). Versions are never deleted."""
    if version == 0:
        return DEFAULT
    row = (await conn.execute(sa.select(agreement_templates).where(agreement_templates.c.version == version))).first()
    return DEFAULT if row is None else _from_row(row)


async def publish(conn: AsyncConnection, sections: list[TemplateSection], published_by: str,
                  now: datetime) -> Template:
    """Insert the next version (a racing publisher's insert fails on the primary key: the caller's 409)."""
    latest = (await conn.execute(sa.select(sa.func.max(agreement_templates.c.version)))).scalar()
    version = int(latest or 0) + 1
    body = json.dumps([{"key": s.key, "title": s.title, "guidance": s.guidance} for s in sections])
    await conn.execute(sa.insert(agreement_templates).values(
        version=version, sections=body, published_by=published_by, published_at=now))
    return Template(version=version, sections=tuple(sections), published_by=published_by, published_at=now)
