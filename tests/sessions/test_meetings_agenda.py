"""Agendas are sealed like notes (issue 14 item 9): nothing readable in the database, Redis or the logs;
opened only for the two members; bound to their session; crypto-shredded when their purpose ends."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.sessions.adapters.vault import AgendaVault, DecryptionError
from services.sessions.app import create_app
from services.sessions.config import Settings
from services.sessions.meetings.tables import meetings
from shared.bus import RedisStreamBus
from shared.crypto import LocalKeyring, StreamContext, WrappedKey, unseal
from shared.db import create_engine
from shared.events import types as t
from tests.support.identity import TestIssuer
from tests.support.rawdb import database_bytes, redis_bytes
from tests.support.sessions import (
    ADMIN,
    MENTEE,
    MENTOR,
    OPERATOR,
    OTHER_MENTEE,
    OTHER_MENTOR,
    SAFEGUARD,
    Api,
    publish_users,
    rows,
    schedule,
    sessions_settings,
    shredded,
    wait_for,
    wait_projected,
)

pytestmark = pytest.mark.integration

OUTSIDERS = [OTHER_MENTOR, OTHER_MENTEE, ADMIN, SAFEGUARD, OPERATOR]


def canary(label: str) -> str:
    return f"AGENDA-{label}-{secrets.token_hex(8)}"


@pytest.fixture
def settings(db_url: str, redis_url: str, issuer: TestIssuer) -> Settings:
    return sessions_settings(db_url, redis_url, issuer)


@pytest.fixture
async def api(settings: Settings, redis: Redis, issuer: TestIssuer) -> AsyncIterator[Api]:
    await publish_users(redis)
    app = create_app(settings)
    async with AsyncTestClient(app) as client:
        await wait_projected(app, MENTOR, vetted=True, agreements_accepted=True)
        await wait_projected(app, OPERATOR)
        yield Api(client, issuer)


async def test_agenda_is_stored_sealed_and_read_only_by_the_members(
        api: Api, settings: Settings, redis: Redis, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    secret = canary("SEALED")
    with caplog.at_level(logging.DEBUG):
        pid = await api.active_pairing()
        sid = await schedule(api, pid, MENTEE, f"Talk about {secret} and next steps")
        for member in (MENTOR, MENTEE):
            assert secret in (await api.req("GET", f"/sessions/{sid}", member)).json()["agenda"]
            listed = (await api.req("GET", f"/pairings/{pid}/sessions", member)).json()
            assert [s["agenda"] for s in listed] == [f"Talk about {secret} and next steps"]
        for outsider in OUTSIDERS:
            for path in (f"/sessions/{sid}", f"/pairings/{pid}/sessions"):
                r = await api.req("GET", path, outsider)
                assert secret not in r.text, (outsider, path)
                assert r.status_code in (200, 403, 404), (outsider, path, r.status_code)
        # What the row holds: one wrapped data key (61-byte wrap, format v1) and the sealed text.
        row = (await rows(settings))[sid]
        assert row.agenda_kek_version == 1 and len(row.agenda_wrapped_dek) == 61
        keyring = LocalKeyring(Path(settings.keyring_path))
        dek = keyring.unwrap(WrappedKey(row.agenda_kek_version, row.agenda_wrapped_dek), record_id=sid)
        assert secret.encode() in unseal(dek, StreamContext(record_id=sid, kind="agenda"), row.agenda_sealed)
        stored, bus = await database_bytes(settings.database_url), await redis_bytes(redis)
    out = capsys.readouterr()
    for name, blob in (("database", stored), ("redis", bus),
                       ("logs", (caplog.text + out.out + out.err).encode())):
        assert secret.encode() not in blob, f"the agenda is readable in the {name}"
        assert secret.encode("utf-16-le") not in blob, f"the agenda is readable in the {name}"


async def test_sealed_agenda_is_bound_to_its_session_and_kind(api: Api, settings: Settings,
                                                              caplog: pytest.LogCaptureFixture,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    pid = await api.active_pairing()
    first, second = canary("FIRST"), canary("SECOND")
    a, b = await schedule(api, pid, MENTOR, first), await schedule(api, pid, MENTOR, second)
    row = (await rows(settings))[a]
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:  # someone with write access copies A's sealed agenda onto B
            await conn.execute(sa.update(meetings).where(meetings.c.session_id == b).values(
                agenda_kek_version=row.agenda_kek_version, agenda_wrapped_dek=row.agenda_wrapped_dek,
                agenda_sealed=row.agenda_sealed))
    finally:
        await engine.dispose()
    with caplog.at_level(logging.DEBUG):
        r = await api.req("GET", f"/sessions/{b}", MENTEE)
    logs = caplog.text + capsys.readouterr().out
    assert r.status_code == 200 and r.json()["agenda"] is None  # does not open as B's: no 500, no leak
    assert first not in logs and "sessions.agenda_unreadable" in logs
    assert (await api.req("GET", f"/sessions/{a}", MENTEE)).json()["agenda"] == first
    vault = AgendaVault(LocalKeyring(Path(settings.keyring_path)))
    with pytest.raises(DecryptionError):  # the same key and text presented as another kind of object
        dek = vault.keyring.unwrap(WrappedKey(row.agenda_kek_version, row.agenda_wrapped_dek), record_id=a)
        unseal(dek, StreamContext(record_id=a, kind="note"), row.agenda_sealed)


async def test_cancel_and_pairing_end_shred_the_agendas(api: Api, settings: Settings) -> None:
    pid = await api.active_pairing()
    other = await api.active_pairing(OTHER_MENTOR, OTHER_MENTEE)
    cancelled = await schedule(api, pid, MENTOR, canary("CANCELLED"))
    kept = [await schedule(api, pid, MENTEE, canary("KEPT")), await schedule(api, pid, MENTOR, None)]
    elsewhere = await schedule(api, other, OTHER_MENTEE, canary("OTHER-PAIR"))
    wrapped = (await rows(settings))[cancelled].agenda_wrapped_dek
    r = await api.req("POST", f"/sessions/{cancelled}/cancel", MENTEE)
    assert r.status_code == 200 and r.json()["agenda"] is None
    now = await rows(settings)
    assert shredded(now[cancelled]) and not shredded(now[kept[0]]) and not shredded(now[elsewhere])
    assert (await api.req("GET", f"/sessions/{cancelled}", MENTOR)).json()["agenda"] is None
    if settings.database_url.startswith("sqlite"):
        # secure_delete: the destroyed key is not left behind in a free page or the WAL of the file.
        assert wrapped not in await database_bytes(settings.database_url)
    kept_key = now[kept[0]].agenda_wrapped_dek
    assert (await api.req("POST", f"/pairings/{pid}/end", MENTOR)).status_code == 200
    now = await rows(settings)
    assert all(shredded(now[s]) for s in (cancelled, *kept))
    if settings.database_url.startswith("sqlite"):
        assert kept_key not in await database_bytes(settings.database_url)
    assert not shredded(now[elsewhere])
    assert all(s["agenda"] is None for s in (await api.req("GET", f"/pairings/{pid}/sessions", MENTEE)).json())


async def test_erasure_request_shreds_the_agendas_the_person_wrote(api: Api, settings: Settings,
                                                                   redis: Redis) -> None:
    pid = await api.active_pairing()
    by_mentee = await schedule(api, pid, MENTEE, canary("BY-MENTEE"))
    by_mentor = await schedule(api, pid, MENTOR, canary("BY-MENTOR"))
    bus = RedisStreamBus(redis, "gateway")
    request = t.UserErasureRequested(user_id=MENTEE, request_id=secrets.token_hex(8))
    event_id = await bus.publish(request)

    async def erased() -> bool:
        return shredded((await rows(settings))[by_mentee])

    await wait_for(erased)
    assert not shredded((await rows(settings))[by_mentor])  # as with notes: what the person wrote
    await bus.publish(request, event_id=event_id)  # a redelivery changes nothing
    assert (await api.req("GET", f"/sessions/{by_mentor}", MENTEE)).json()["agenda"] is not None
