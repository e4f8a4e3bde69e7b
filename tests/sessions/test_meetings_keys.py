"""`tandem sessions keys ...`: rotate the agendas' KEK, rewrap every live agenda key, retire the old version."""

from __future__ import annotations

import asyncio
import io
import secrets

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from deploy.cli import main as tandem
from services.sessions.app import create_app
from services.sessions.cli import main
from services.sessions.config import Settings
from tests.support.identity import TestIssuer
from tests.support.sessions import (
    MENTEE,
    MENTOR,
    Api,
    publish_users,
    rows,
    schedule,
    sessions_settings,
    shredded,
    wait_projected,
)

pytestmark = pytest.mark.integration


async def run(settings: Settings, *argv: str) -> tuple[int, str]:
    """The CLI runs its own event loop (asyncio.run), as from a shell: give it a thread."""
    out = io.StringIO()
    code = await asyncio.to_thread(main, list(argv), settings=settings, out=out)
    return code, out.getvalue()


async def test_rotate_rewrap_retire(db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    settings = sessions_settings(db_url, redis_url, issuer)
    secret = f"AGENDA-KEYS-{secrets.token_hex(6)}"
    await publish_users(redis)
    app = create_app(settings)
    async with AsyncTestClient(app) as client:
        await wait_projected(app, MENTOR, vetted=True, agreements_accepted=True)
        api = Api(client, issuer)
        pid = await api.active_pairing()
        live = await schedule(api, pid, MENTEE, secret)
        gone = await schedule(api, pid, MENTOR, "to be cancelled")
        assert (await api.req("POST", f"/sessions/{gone}/cancel", MENTOR)).status_code == 200

        code, out = await run(settings, "keys", "list")
        assert code == 0 and out.splitlines()[1].split()[::3] == ["1", "1"]  # version 1 wraps one live key
        assert (await run(settings, "keys", "rotate"))[0] == 0
        code, out = await run(settings, "keys", "retire", "1")
        assert code == 1 and "still wraps 1" in out  # refused: an agenda would become unreadable
        code, out = await run(settings, "keys", "rewrap")
        assert code == 0 and "1 data keys re-wrapped under KEK version 2" in out, out
        now = await rows(settings)
        assert now[live].agenda_kek_version == 2 and shredded(now[gone])  # a shredded key stays destroyed
        code, out = await run(settings, "keys", "retire", "1")
        assert code == 0, out
        # The running service reads the rotated keyring at once: the agenda opens under version 2.
        assert (await api.req("GET", f"/sessions/{live}", MENTOR)).json()["agenda"] == secret
        assert secret not in out
    assert (await run(settings, "keys", "retire", "2"))[0] == 1  # the primary cannot be retired
    # The `tandem` command hands `sessions ...` to this CLI (settings from the environment).
    monkeypatch.setenv("SESSIONS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SESSIONS_KEYRING_PATH", settings.keyring_path)
    assert await asyncio.to_thread(tandem, ["sessions", "keys", "list"]) == 0
    assert await asyncio.to_thread(tandem, ["sessions", "keys", "bogus"]) == 2
