"""The pair's mentoring agreement: drafted together on the programme's template, in force once both
members accepted the same version; a change is a new version both accept again (the one in force stays in
force meanwhile). Every version is kept, sealed with its own data key; only the two members read it.

Each change runs in one transaction with its audit entry (ids only, never a text). The texts never reach a
log line, an event or an audit entry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.sessions.adapters.vault import DecryptionError, Sealed, Vault
from services.sessions.mentoring_agreement import template as templates
from services.sessions.mentoring_agreement.schemas import (
    AgreementIn,
    AgreementOut,
    AgreementSection,
    TemplateIn,
    TemplateOut,
    VersionOut,
)
from services.sessions.mentoring_agreement.tables import pair_agreements as agreements
from services.sessions.pairings import service as pairing_svc
from shared.clock import aware, utcnow
from shared.http import Conflict, Gone, NotFound, Unprocessable
from shared.logging import get_logger
from shared.service import AuditedFeature

log = get_logger("tandem.sessions.agreement")

KIND = "mentoring-agreement"
SHREDDED: dict[str, Any] = {"kek_version": None, "wrapped_dek": None, "sealed": None}


def subject(pairing_id: str) -> str:
    return f"agreement:{pairing_id}"


async def shred_pairing_agreements(conn: AsyncConnection, pairing_id: str) -> None:
    """Destroy the data keys of every version of the pairing's agreement (call it in the transaction that
    ends the pairing). Version numbers, editors and acceptances stay; the texts can never be opened again."""
    await conn.execute(sa.update(agreements).where(agreements.c.pairing_id == pairing_id,
                                                   agreements.c.wrapped_dek.is_not(None)).values(**SHREDDED))


def _gone() -> Gone:
    return Gone("This agreement was destroyed when its pairing ended; it cannot be read any more.",
                slug="agreement-shredded")


def _is_shredded(row: Any) -> bool:
    return row.sealed is None or row.wrapped_dek is None or row.kek_version is None


def _open_all(vault: Vault, pairing_id: str, rows: list[Any]) -> dict[int, dict[str, str]]:
    """The sections of each version. A version's sealed payload names its version number, so a sealed
    version copied onto another row of the same pairing does not open as that row."""
    texts: dict[int, dict[str, str]] = {}
    for row in rows:
        try:
            value = vault.open_json(subject(pairing_id), KIND, Sealed(row.kek_version, row.wrapped_dek, row.sealed))
            if not isinstance(value, dict) or value.get("version") != row.version:
                raise DecryptionError
            sections = value.get("sections")
            if not isinstance(sections, dict):
                raise DecryptionError
        except DecryptionError:
            # Tampered row, retired KEK or a key from another keyring: which one, never why nor what.
            log.warning("sessions.agreement_unreadable", pairing_id=pairing_id, version=row.version)
            raise Gone("This agreement version cannot be opened.", slug="agreement-unreadable") from None
        texts[row.version] = {str(k): str(v) for k, v in sections.items()}
    return texts


async def _open(vault: Vault, pairing_id: str, rows: list[Any]) -> dict[int, dict[str, str]]:
    if any(_is_shredded(r) for r in rows):
        raise _gone()
    return await asyncio.to_thread(_open_all, vault, pairing_id, rows) if rows else {}


async def _latest(conn: AsyncConnection, pairing_id: str) -> Any:
    return (await conn.execute(sa.select(agreements).where(agreements.c.pairing_id == pairing_id)
                               .order_by(agreements.c.version.desc()).limit(1))).first()


async def _in_force(conn: AsyncConnection, pairing_id: str) -> int | None:
    value = (await conn.execute(sa.select(sa.func.max(agreements.c.version)).where(
        agreements.c.pairing_id == pairing_id, agreements.c.mentor_accepted_at.is_not(None),
        agreements.c.mentee_accepted_at.is_not(None)))).scalar()
    return None if value is None else int(value)


def _accepted_by(row: Any, pairing: Any) -> list[str]:
    return ([pairing.mentor_id] if row.mentor_accepted_at is not None else []) + \
        ([pairing.mentee_id] if row.mentee_accepted_at is not None else [])


@dataclass(frozen=True)
class Agreements(AuditedFeature):
    """The agreement routes' work for one caller."""

    vault: Vault

    async def _pairing(self, conn: AsyncConnection, pairing_id: str, *, writing: bool = False) -> Any:
        """The pairing if the caller is one of its two members (anyone else, admins included: no such
        pairing). Writing: locked, and it must be active."""
        row = await pairing_svc.load(conn, pairing_id, for_update=writing)
        if not pairing_svc.is_member(row, self.me):
            raise NotFound("No such pairing.")
        if writing and row.state != "active":
            raise Conflict(f"The agreement of a pairing in state {row.state} cannot be changed.")
        return row

    # -- the template ------------------------------------------------------------------------------------

    async def template(self) -> TemplateOut:
        async with self.runtime.engine.connect() as conn:
            return (await templates.current(conn)).out()

    async def publish_template(self, data: TemplateIn) -> TemplateOut:
        keys = [s.key for s in data.sections]
        if len(set(keys)) != len(keys):
            raise Unprocessable("Each section needs its own key.", slug="duplicate-section-key")
        try:
            async with self.runtime.engine.begin() as conn:
                published = await templates.publish(conn, data.sections, self.me.sub, utcnow())
                target = f"agreement-template:{published.version}"
                await self.audit(conn, "mentoring_agreement.template_publish", target, target)
        except sa.exc.IntegrityError:
            raise Conflict("Another template was published meanwhile; reload and retry.") from None
        return published.out()

    # -- a pairing's agreement ---------------------------------------------------------------------------

    async def _out(self, conn: AsyncConnection, pairing: Any, latest: Any,
                   texts: dict[str, str] | None = None) -> AgreementOut:
        """The state of the pairing's agreement; `texts`: the latest version's sections, opened here if
        not given (the caller has just written them)."""
        current = await templates.current(conn)
        used = current if latest is None else await templates.at(conn, latest.template_version)
        in_force = await _in_force(conn, pairing.pairing_id)
        if latest is not None and texts is None:
            texts = (await _open(self.vault, pairing.pairing_id, [latest]))[latest.version]
        texts = texts or {}
        return AgreementOut(
            pairing_id=pairing.pairing_id, version=None if latest is None else latest.version,
            template_version=used.version, current_template_version=current.version,
            sections=[AgreementSection(key=s.key, title=s.title, guidance=s.guidance, text=texts.get(s.key, ""))
                      for s in used.sections],
            edited_by=None if latest is None else latest.edited_by,
            edited_at=None if latest is None else aware(latest.created_at),
            mentor_accepted=latest is not None and latest.mentor_accepted_at is not None,
            mentee_accepted=latest is not None and latest.mentee_accepted_at is not None,
            in_force_version=in_force)

    async def get(self, pairing_id: str) -> AgreementOut:
        async with self.runtime.engine.connect() as conn:
            pairing = await self._pairing(conn, pairing_id)
            return await self._out(conn, pairing, await _latest(conn, pairing_id))

    async def versions(self, pairing_id: str) -> list[VersionOut]:
        async with self.runtime.engine.connect() as conn:
            pairing = await self._pairing(conn, pairing_id)
            rows = (await conn.execute(sa.select(agreements).where(agreements.c.pairing_id == pairing_id)
                                       .order_by(agreements.c.version))).all()
            in_force = await _in_force(conn, pairing_id)
        texts = await _open(self.vault, pairing_id, list(rows))
        return [VersionOut(version=r.version, template_version=r.template_version, edited_by=r.edited_by,
                           created_at=aware(r.created_at), accepted_by=_accepted_by(r, pairing),
                           in_force=r.version == in_force, sections=texts[r.version]) for r in rows]

    async def edit(self, pairing_id: str, data: AgreementIn) -> AgreementOut:
        """A new version under the programme's current template. Nobody's acceptance is implied, the
        author's included: both members accept it explicitly."""
        try:
            async with self.runtime.engine.begin() as conn:
                return await self._edit(conn, pairing_id, data)
        except sa.exc.IntegrityError:  # a racing edit took the same version number
            raise Conflict("The agreement changed meanwhile; reload and retry.", slug="agreement-changed") from None

    async def _edit(self, conn: AsyncConnection, pairing_id: str, data: AgreementIn) -> AgreementOut:
        pairing = await self._pairing(conn, pairing_id, writing=True)
        latest = await _latest(conn, pairing_id)
        latest_version = None if latest is None else latest.version
        if data.base_version != latest_version:
            raise Conflict("The agreement changed meanwhile; reload and retry.", slug="agreement-changed",
                           extra={"latest_version": latest_version})
        if latest is not None and _is_shredded(latest):
            raise _gone()
        current = await templates.current(conn)
        unknown = sorted(set(data.sections) - current.keys)
        if unknown:  # (keys are checked against the key pattern already: ids, never free text)
            raise Unprocessable("The programme's agreement template has no such section.",
                                slug="unknown-section", extra={"keys": unknown})
        texts = {s.key: data.sections.get(s.key, "") for s in current.sections}
        version = (latest_version or 0) + 1
        sealed = await asyncio.to_thread(self.vault.seal_json, subject(pairing_id), KIND,
                                         {"version": version, "sections": texts})
        await conn.execute(sa.insert(agreements).values(
            pairing_id=pairing_id, version=version, template_version=current.version, edited_by=self.me.sub,
            created_at=utcnow(), kek_version=sealed.kek_version, wrapped_dek=sealed.wrapped_dek,
            sealed=sealed.ciphertext))
        await self.audit(conn, "mentoring_agreement.edit", f"pairing:{pairing_id}", f"agreement-version:{version}")
        return await self._out(conn, pairing, await _latest(conn, pairing_id), texts)

    async def accept(self, pairing_id: str, version: int) -> AgreementOut:
        """The caller accepts `version`, which must be the latest; in force once both have accepted it."""
        async with self.runtime.engine.begin() as conn:
            pairing = await self._pairing(conn, pairing_id, writing=True)
            latest = await _latest(conn, pairing_id)
            if latest is None or latest.version != version:
                raise Conflict("Only the latest version of the agreement can be accepted; reload and retry.",
                               slug="agreement-changed",
                               extra={"latest_version": None if latest is None else latest.version})
            if _is_shredded(latest):
                raise _gone()
            column = "mentor_accepted_at" if self.me.sub == pairing.mentor_id else "mentee_accepted_at"
            if getattr(latest, column) is not None:
                raise Conflict("You have already accepted this version.", slug="already-accepted")
            newer = sa.select(agreements.c.version).where(agreements.c.pairing_id == pairing_id,
                                                          agreements.c.version > version).exists()
            done = await conn.execute(sa.update(agreements).where(
                agreements.c.pairing_id == pairing_id, agreements.c.version == version,
                agreements.c[column].is_(None), ~newer).values({column: utcnow()}))
            if not done.rowcount:
                raise Conflict("The agreement changed meanwhile; reload and retry.", slug="agreement-changed")
            await self.audit(conn, "mentoring_agreement.accept", f"pairing:{pairing_id}",
                              f"agreement-version:{version}")
            return await self._out(conn, pairing, await _latest(conn, pairing_id))
