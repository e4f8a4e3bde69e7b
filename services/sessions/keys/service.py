"""Rotate, rewrap and retire the sessions KEKs. A copy, cut to the one table sessions seals into, of
services/reports/keys/service.py (a later issue gives the services one key-admin module).

Rewrapping never reads an agenda: only the wrapped DEKs change. Each batch commits on its own and the
work left is always "agendas not under the primary", so a rerun continues where an interrupted one
stopped; a shredded agenda (NULL key) is never written back.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.sessions.adapters.db import meetings
from shared.crypto import KeyEncryptionKeyProvider, WrappedKey, rewrap

m = meetings.c


class StillReferenced(Exception):
    def __init__(self, version: int, count: int) -> None:
        super().__init__(f"KEK version {version} still wraps {count} data keys")
        self.version = version
        self.count = count


async def references(engine: AsyncEngine) -> dict[int, int]:
    """How many live (not shredded) agenda keys each KEK version wraps."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(m.agenda_kek_version, sa.func.count())
                                   .where(m.agenda_wrapped_dek.is_not(None))
                                   .group_by(m.agenda_kek_version))).all()
    return {int(v): int(n) for v, n in rows if v is not None}


async def rewrap_all(engine: AsyncEngine, provider: KeyEncryptionKeyProvider, *, batch: int = 200) -> int:
    primary = provider.primary_version()
    done = 0
    last = ""
    while True:
        async with engine.begin() as conn:
            rows = (await conn.execute(
                sa.select(m.session_id, m.agenda_kek_version, m.agenda_wrapped_dek)
                .where(m.agenda_wrapped_dek.is_not(None), m.agenda_kek_version != primary, m.session_id > last)
                .order_by(m.session_id).limit(batch))).all()
            if not rows:
                return done
            for session_id, version, blob in rows:
                new = rewrap(provider, WrappedKey(version, blob), record_id=session_id)
                # Never write a key back over a shredded one, nor over a concurrent rewrap.
                res = await conn.execute(sa.update(meetings).where(
                    m.session_id == session_id, m.agenda_kek_version == version, m.agenda_wrapped_dek.is_not(None))
                    .values(agenda_kek_version=new.kek_version, agenda_wrapped_dek=new.blob))
                done += int(res.rowcount or 0)
            last = rows[-1][0]


async def retire(engine: AsyncEngine, provider: KeyEncryptionKeyProvider, version: int) -> None:
    """Retire `version` only if no live agenda key references it."""
    count = (await references(engine)).get(version, 0)
    if count:
        raise StillReferenced(version, count)
    provider.retire(version)
