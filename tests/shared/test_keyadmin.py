"""shared/keyadmin: count, rewrap and retire over several wrapped-key columns, each wrap bound to what its
spec says (the primary key, another column, or one fixed record id); shredded keys stay shredded."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from shared import db
from shared.crypto import LocalKeyring, WrappedKey, new_data_key
from shared.keyadmin import KeyAdmin, RewrapProgress, StillReferenced, WrappedKeys

metadata = sa.MetaData()
objects = sa.Table("objects", metadata, sa.Column("id", sa.String(8), primary_key=True),
                   sa.Column("crypto_id", sa.String(16), nullable=False),
                   sa.Column("kek_version", sa.Integer), sa.Column("wrapped_dek", sa.LargeBinary))
agendas = sa.Table("agendas", metadata, sa.Column("session_id", sa.String(8), primary_key=True),
                   sa.Column("agenda_kek_version", sa.Integer), sa.Column("agenda_wrapped_dek", sa.LargeBinary))
index_keys = sa.Table("index_keys", metadata, sa.Column("id", sa.String(8), primary_key=True),
                      sa.Column("kek_version", sa.Integer, nullable=False),
                      sa.Column("wrapped_key", sa.LargeBinary, nullable=False))

WRAPPED = (WrappedKeys(objects, bound_to="crypto_id"),
           WrappedKeys(agendas, blob="agenda_wrapped_dek", version="agenda_kek_version"),
           WrappedKeys(index_keys, blob="wrapped_key", record_id="the-index-key"))


async def test_rotate_rewrap_retire_across_tables(db_url: str, tmp_path: Path) -> None:
    keyring = LocalKeyring(tmp_path / "keyring.json")
    deks = {name: new_data_key() for name in ("o1", "o2", "o3", "a1", "ix")}
    engine = db.create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            for i in ("o1", "o2", "o3"):
                w = keyring.wrap(deks[i], record_id=f"crypto-{i}")
                await conn.execute(sa.insert(objects).values(id=i, crypto_id=f"crypto-{i}", kek_version=w.kek_version,
                                                             wrapped_dek=w.blob))
            await conn.execute(sa.insert(objects).values(id="o4", crypto_id="crypto-o4"))  # shredded
            w = keyring.wrap(deks["a1"], record_id="a1")
            await conn.execute(sa.insert(agendas).values(session_id="a1", agenda_kek_version=w.kek_version,
                                                         agenda_wrapped_dek=w.blob))
            w = keyring.wrap(deks["ix"], record_id="the-index-key")
            await conn.execute(sa.insert(index_keys).values(id="ix", kek_version=w.kek_version, wrapped_key=w.blob))
        admin = KeyAdmin(engine, keyring, WRAPPED)
        assert await admin.references() == {1: 5}

        assert keyring.rotate() == 2
        with pytest.raises(StillReferenced) as refused:
            await admin.retire(1)
        assert (refused.value.version, refused.value.count) == (1, 5)

        seen: list[RewrapProgress] = []
        assert await admin.rewrap_all(batch=2, progress=seen.append) == 5
        assert [(p.done, p.total) for p in seen] == [(2, 5), (3, 5), (4, 5), (5, 5)]
        assert await admin.references() == {2: 5} and await admin.references(1) == {}
        assert await admin.rewrap_all() == 0  # nothing left: a rerun is a no-op
        assert await admin.retire(1) == 0

        async with engine.connect() as conn:
            rows = {r.id: r for r in await conn.execute(sa.select(objects))}
            agenda = (await conn.execute(sa.select(agendas))).one()
            index = (await conn.execute(sa.select(index_keys))).one()
        for i in ("o1", "o2", "o3"):  # every key opens under version 2, bound as before
            wrapped = WrappedKey(rows[i].kek_version, rows[i].wrapped_dek)
            assert keyring.unwrap(wrapped, record_id=f"crypto-{i}") == deks[i]
        assert rows["o4"].wrapped_dek is None and rows["o4"].kek_version is None
        assert keyring.unwrap(WrappedKey(agenda.agenda_kek_version, agenda.agenda_wrapped_dek),
                              record_id="a1") == deks["a1"]
        assert keyring.unwrap(WrappedKey(index.kek_version, index.wrapped_key), record_id="the-index-key") == deks["ix"]
    finally:
        await engine.dispose()
