"""Session agendas: sealed on write, opened only for the two members, crypto-shredded when their purpose ends.

Retention (docs/sessions.md, "Agendas"): an agenda plans one session of one pairing, so its data key
is destroyed when the session is cancelled, when the pairing ends, and (for the agendas a person
wrote, as records does with notes) when that person's erasure is requested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.sessions.adapters.db import inbox
from services.sessions.adapters.vault import AgendaVault, DecryptionError
from services.sessions.meetings.tables import meetings
from shared.db import claim_event
from shared.events import Envelope
from shared.events import types as t
from shared.logging import get_logger

log = get_logger("tandem.sessions.agenda")
CONSUMER = "sessions.agendas"

SHREDDED: dict[str, Any] = {"agenda_kek_version": None, "agenda_wrapped_dek": None, "agenda_sealed": None}


async def sealed_columns(vault: AgendaVault, session_id: str, text: str | None) -> dict[str, Any]:
    if text is None:
        return dict(SHREDDED)
    sealed = await asyncio.to_thread(vault.seal, session_id, text)
    return {"agenda_kek_version": sealed.kek_version, "agenda_wrapped_dek": sealed.wrapped_dek,
            "agenda_sealed": sealed.ciphertext}


def _open_all(vault: AgendaVault, rows: list[Any]) -> dict[str, str | None]:
    texts: dict[str, str | None] = {}
    for row in rows:
        if row.agenda_sealed is None:
            texts[row.session_id] = None
            continue
        try:
            texts[row.session_id] = vault.open(row.session_id, row.agenda_kek_version, row.agenda_wrapped_dek,
                                               row.agenda_sealed)
        except DecryptionError:
            # Tampered row, retired KEK or a key from another keyring: the member sees no agenda and
            # the operator sees which session (never why in detail: that is crypto's debug line).
            log.warning("sessions.agenda_unreadable", session_id=row.session_id)
            texts[row.session_id] = None
    return texts


async def open_for_members(vault: AgendaVault, rows: Iterable[Any]) -> dict[str, str | None]:
    """Plaintext agendas by session id, opened in one worker-thread hop. Call only for members."""
    todo = list(rows)
    if not any(r.agenda_sealed is not None for r in todo):
        return {r.session_id: None for r in todo}
    return await asyncio.to_thread(_open_all, vault, todo)


async def _shred(conn: AsyncConnection, where: Any) -> int:
    res = await conn.execute(sa.update(meetings).where(where, meetings.c.agenda_wrapped_dek.is_not(None))
                             .values(**SHREDDED))
    return int(res.rowcount or 0)


async def shred_session(conn: AsyncConnection, session_id: str) -> int:
    return await _shred(conn, meetings.c.session_id == session_id)


async def shred_pairing(conn: AsyncConnection, pairing_id: str) -> int:
    """Every agenda of the pairing's sessions: called in the transaction that ends the pairing."""
    return await _shred(conn, meetings.c.pairing_id == pairing_id)


async def shred_written_by(conn: AsyncConnection, user_id: str) -> int:
    return await _shred(conn, meetings.c.created_by == user_id)


async def reclaim(engine: AsyncEngine) -> None:
    """Call after a transaction that shredded agendas committed. SQLite: checkpoint and truncate the WAL,
    so the destroyed keys' old page images leave the files now (secure_delete zeroes the freed cells of
    the main file). PostgreSQL keeps dead row versions until (auto)vacuum: docs/sessions.md, "Agendas"."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        result = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
    if result is not None and result[0]:
        log.info("sessions.wal_checkpoint_busy")  # a reader held it: the next checkpoint finishes the job


async def on_user_event(engine: AsyncEngine, envelope: Envelope) -> None:
    """`user.erasure_requested`: shred the agendas the person wrote (once per event)."""
    if envelope.type != t.UserErasureRequested.TYPE:
        return
    request = envelope.payload(t.UserErasureRequested)
    async with engine.begin() as conn:
        if not await claim_event(conn, inbox, CONSUMER, envelope.id):
            return
        shredded = await shred_written_by(conn, request.user_id)
    await reclaim(engine)
    log.info("sessions.agendas_erased", request_id=request.request_id, shredded=shredded)

