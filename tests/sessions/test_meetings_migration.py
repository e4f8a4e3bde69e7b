"""Migration 0003: a database at 0002 with agendas in clear comes out with every agenda sealed, readable by
the members, and no plaintext left in the database's bytes; the downgrade refuses to unseal them."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.sessions.adapters.vault import AgendaVault
from services.sessions.app import MIGRATIONS, create_app
from shared import db
from shared.crypto import LocalKeyring
from tests.support.identity import TestIssuer
from tests.support.rawdb import database_bytes
from tests.support.sessions import MENTEE, MENTOR, Api, publish_users, sessions_settings, wait_projected

HEAD = max(p.name[:4] for p in (MIGRATIONS / "versions").glob("0*.py"))  # the newest revision

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


async def at_0002_with_plaintext(url: str, agendas: list[str | None]) -> list[str]:
    """A sessions database as 0002 left it: one active pairing, a session per agenda (None: no agenda)."""
    engine = db.create_engine(url)
    now = datetime.now(UTC)
    ids = [secrets.token_hex(16) for _ in agendas]
    try:
        await db.upgrade(engine, MIGRATIONS, "0002", lock_key="sessions")
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "INSERT INTO pairings (pairing_id, mentor_id, mentee_id, state, proposed_by, created_at, version) "
                "VALUES ('p-old', :mentor, :mentee, 'active', :mentor, :now, 1)"),
                {"mentor": MENTOR, "mentee": MENTEE, "now": now})
            for sid, agenda in zip(ids, agendas, strict=True):
                await conn.execute(sa.text(
                    "INSERT INTO meetings (session_id, pairing_id, starts_at, ends_at, agenda, state, created_by, "
                    "created_at) VALUES (:sid, 'p-old', :start, :end, :agenda, 'scheduled', :mentee, :now)"),
                    {"sid": sid, "start": now + timedelta(hours=1), "end": now + timedelta(hours=2), "agenda": agenda,
                     "mentee": MENTEE, "now": now})
    finally:
        await engine.dispose()
    return ids


async def meetings_rows(url: str) -> dict[str, Any]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return {r.session_id: r for r in (await conn.execute(sa.text("SELECT * FROM meetings"))).all()}
    finally:
        await engine.dispose()


async def downgrade(url: str, revision: str) -> None:
    engine = db.create_engine(url)

    def _run(sync_conn: Any) -> None:
        command.downgrade(db.alembic_config(MIGRATIONS, sync_conn), revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


async def version(url: str) -> str:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one())
    finally:
        await engine.dispose()


async def test_upgrade_seals_plaintext_agendas(db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer) -> None:
    secrets_ = [f"OLD-AGENDA-{secrets.token_hex(8)}-{n}" for n in range(3)]
    ids = await at_0002_with_plaintext(db_url, [*secrets_, None])
    assert secrets_[0].encode() in await database_bytes(db_url)  # the canary check sees plaintext where it is
    settings = sessions_settings(db_url, redis_url, issuer)
    await publish_users(redis)
    app = create_app(settings)
    async with AsyncTestClient(app) as client:  # the service migrates on start, with its own keyring
        await wait_projected(app, MENTOR, vetted=True, agreements_accepted=True)
        api = Api(client, issuer)
        listed = (await api.req("GET", "/pairings/p-old/sessions", MENTOR)).json()
        assert sorted(s["agenda"] or "" for s in listed) == sorted(["", *secrets_])
        assert (await api.req("GET", f"/sessions/{ids[0]}", MENTEE)).json()["agenda"] == secrets_[0]
        # Still a working table: its foreign key, index and new sealed rows.
        start = datetime.now(UTC) + timedelta(minutes=5)
        r = await api.req("POST", "/pairings/p-old/sessions", MENTOR, json={
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": "new"})
        assert r.status_code == 201, r.text
    assert await version(db_url) == HEAD
    rows = await meetings_rows(db_url)
    assert "agenda" not in rows[ids[0]]._fields
    vault = AgendaVault(LocalKeyring(Path(settings.keyring_path)))
    for sid, text in zip(ids, [*secrets_, None], strict=True):
        row = rows[sid]
        if text is None:
            assert row.agenda_sealed is None and row.agenda_wrapped_dek is None
        else:
            assert vault.open(sid, row.agenda_kek_version, row.agenda_wrapped_dek, row.agenda_sealed) == text
    stored = await database_bytes(db_url)
    for text in secrets_:
        assert text.encode() not in stored, "plaintext agenda left in the database after 0003"

    with pytest.raises(RuntimeError, match="refusing to downgrade"):
        await downgrade(db_url, "0002")
    assert await version(db_url) == HEAD


async def test_downgrade_without_sealed_agendas(db_url: str) -> None:
    await at_0002_with_plaintext(db_url, [None])
    engine = db.create_engine(db_url)
    try:
        await db.upgrade(engine, MIGRATIONS, lock_key="sessions")  # nothing to seal: no keyring is opened
    finally:
        await engine.dispose()
    await downgrade(db_url, "0002")
    assert await version(db_url) == "0002"
    assert "agenda" in (next(iter((await meetings_rows(db_url)).values())))._fields


async def test_migrate_command_takes_the_keyring_from_the_environment(db_url: str, tmp_path: Path) -> None:
    """`python -m services.sessions migrate` (the Kubernetes init container) seals with SESSIONS_KEYRING_PATH."""
    text = f"OLD-AGENDA-{secrets.token_hex(8)}"
    [sid] = await at_0002_with_plaintext(db_url, [text])
    keyring = tmp_path / "keys" / "sessions-keyring.json"
    env = {**os.environ, "SESSIONS_DATABASE_URL": db_url, "SESSIONS_KEYRING_PATH": str(keyring)}
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "services.sessions", "migrate"], env=env,
                                   cwd=ROOT, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert text.encode() not in done.stdout + done.stderr
    row = (await meetings_rows(db_url))[sid]
    assert AgendaVault(LocalKeyring(keyring)).open(sid, row.agenda_kek_version, row.agenda_wrapped_dek,
                                                   row.agenda_sealed) == text
    assert text.encode() not in await database_bytes(db_url)
