"""Reading record rows: who may see a record (non-members get "not found": a record's existence is itself
confidential), and the sealed object behind one of its versions."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.records.adapters.vault import ObjectRef
from services.records.lifecycle.tables import record_objects, records
from services.records.pairings.service import Pairing, get_pairing
from shared.http import Gone, NotFound


def not_found() -> NotFound:
    return NotFound("No such record.", slug="record-not-found")


async def member_pairing(conn: AsyncConnection, pairing_id: str, user_id: str) -> Pairing:
    """The pairing if `user_id` is one of its members; 404 otherwise (others' pairings stay invisible)."""
    pairing = await get_pairing(conn, pairing_id)
    if pairing is None or not pairing.has_member(user_id):
        raise not_found()
    return pairing


async def load_record(conn: AsyncConnection, record_id: str, kind: str) -> sa.Row[tuple[object, ...]]:
    row = (await conn.execute(sa.select(records).where(records.c.id == record_id, records.c.kind == kind))).first()
    if row is None:
        raise not_found()
    return row


async def visible_record(conn: AsyncConnection, record_id: str, kind: str,
                         user_id: str) -> tuple[sa.Row[tuple[object, ...]], Pairing]:
    """The record and its pairing if `user_id` may read it; 404 otherwise, 410 once it expired."""
    row = await load_record(conn, record_id, kind)
    if row.state != "active":
        # Tombstones carry no pairing, so membership can't be shown: say gone, nothing more.
        raise Gone("This record has expired or was erased.", slug="record-expired")
    pairing = await get_pairing(conn, row.pairing_id)
    if pairing is None or not pairing.has_member(user_id):
        raise not_found()
    if kind == "note" and row.visibility != "pair" and row.author_id != user_id:
        raise not_found()
    return row, pairing


async def object_ref(conn: AsyncConnection, record_id: str, version: int, kind: str) -> ObjectRef:
    o = (await conn.execute(sa.select(record_objects).where(record_objects.c.record_id == record_id,
                                                            record_objects.c.version == version))).first()
    if o is None or o.wrapped_dek is None or o.object_key is None or o.kek_version is None:
        raise Gone("This record has expired or was erased.", slug="record-expired")
    return ObjectRef(o.object_key, o.crypto_id, kind, o.plaintext_size, o.ciphertext_size, o.segment_size,
                     o.kek_version, o.wrapped_dek)
