"""A pairing's term (issue 17, item 4): six months from activation, both reminded before it ends, an
extension only when both agree, and the pairing closes when the term ends (as when a member ends it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.sessions.app import create_app
from services.sessions.pairings.service import add_months
from services.sessions.pairings.tables import pairings
from shared.db import create_engine
from shared.events import decode_envelope
from tests.support.identity import TestIssuer
from tests.support.sessions import (
    ADMIN,
    MENTEE,
    MENTOR,
    OTHER_MENTEE,
    Api,
    publish_users,
    schedule,
    sessions_settings,
    wait_for,
    wait_projected,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def fast(db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer) -> AsyncIterator[Api]:
    """The app with its term sweeper every 0.05 s."""
    await publish_users(redis)
    app = create_app(sessions_settings(db_url, redis_url, issuer, term_sweep_interval_s=0.05))
    async with issuer.bind(AsyncTestClient(app)) as client:
        await wait_projected(app, MENTOR, vetted=True, agreements_accepted=True)
        yield Api(client, issuer)


async def _set(api: Api, pid: str, **values: Any) -> None:
    """Move a pairing's term by hand (the clock cannot wait six months)."""
    engine = create_engine(api.client.app.state.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.update(pairings).where(pairings.c.pairing_id == pid).values(**values))
    finally:
        await engine.dispose()


async def _term_events(redis: Redis, pid: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for _id, fields in await redis.xrange("tandem.pairing"):
        envelope = decode_envelope(fields[b"envelope"])
        payload = envelope.payload()
        if getattr(payload, "pairing_id", None) == pid:
            out.append((envelope.type, {"change": getattr(payload, "change", None)}))
    return out


def test_months_are_calendar_months() -> None:
    assert add_months(datetime(2027, 1, 31, 9, tzinfo=UTC), 1) == datetime(2027, 2, 28, 9, tzinfo=UTC)
    assert add_months(datetime(2027, 8, 31, tzinfo=UTC), 6) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2027, 7, 15, tzinfo=UTC), 6) == datetime(2028, 1, 15, tzinfo=UTC)


async def test_an_extension_takes_effect_only_when_both_accept(api: Api, redis: Redis) -> None:
    pid = await api.active_pairing()
    p = (await api.req("GET", f"/pairings/{pid}", MENTEE)).json()
    activated = datetime.fromisoformat(p["activated_at"])
    ends = datetime.fromisoformat(p["term_ends_at"])
    assert ends == add_months(activated, 6) and p["extension_until"] is None
    later = add_months(ends, 3)
    for bad in ((ends - timedelta(days=1)).isoformat(), add_months(ends, 13).isoformat(),
                later.replace(tzinfo=None).isoformat()):
        r = await api.req("POST", f"/pairings/{pid}/extension", MENTOR, json={"until": bad})
        assert r.status_code == 422, (bad, r.text)
    for who, status in ((OTHER_MENTEE, 404), (ADMIN, 403)):
        r = await api.req("POST", f"/pairings/{pid}/extension", who, json={"until": later.isoformat()})
        assert r.status_code == status, who
    assert (await api.req("POST", f"/pairings/{pid}/extension/accept", MENTEE)).status_code == 409  # none yet
    proposed = (await api.req("POST", f"/pairings/{pid}/extension", MENTOR, json={"until": later.isoformat()})).json()
    assert proposed["extension_proposed_by"] == MENTOR and proposed["term_ends_at"] == p["term_ends_at"]
    assert (await api.req("POST", f"/pairings/{pid}/extension/accept", MENTOR)).status_code == 409  # not alone
    assert (await api.req("POST", f"/pairings/{pid}/extension/accept", ADMIN)).status_code == 403
    accepted = (await api.req("POST", f"/pairings/{pid}/extension/accept", MENTEE)).json()
    assert datetime.fromisoformat(accepted["term_ends_at"]) == later and accepted["extension_until"] is None
    # A second proposal, withdrawn by its author: nothing changes.
    await api.req("POST", f"/pairings/{pid}/extension", MENTEE, json={"until": add_months(later, 1).isoformat()})
    withdrawn = (await api.req("POST", f"/pairings/{pid}/extension/decline", MENTEE)).json()
    assert withdrawn["extension_until"] is None and datetime.fromisoformat(withdrawn["term_ends_at"]) == later

    async def published() -> bool:
        return len(await _term_events(redis, pid)) >= 6  # proposed, activated and four term changes

    await wait_for(published)
    changes = [facts["change"] for kind, facts in await _term_events(redis, pid) if kind == "pairing.term"]
    assert changes == ["extension_proposed", "extended", "extension_proposed", "extension_declined"]


async def test_both_are_reminded_once_then_the_term_ends_the_pairing(fast: Api, redis: Redis) -> None:
    api = fast
    pid = await api.active_pairing()
    sid = await schedule(api, pid, MENTOR, "agenda before the end")
    agreed = await api.req("PUT", f"/pairings/{pid}/agreement", MENTEE,
                           json={"sections": {"scope": "clinical leadership"}, "base_version": None})
    assert agreed.status_code == 200, agreed.text
    now = datetime.now(UTC)
    await _set(api, pid, term_ends_at=now + timedelta(days=3))

    async def reminded() -> bool:
        return (await api.req("GET", f"/pairings/{pid}", MENTOR)).status_code == 200 and any(
            f["change"] == "ending_soon" for _k, f in await _term_events(redis, pid))

    await wait_for(reminded)
    await _set(api, pid, term_ends_at=now - timedelta(minutes=1))

    async def ended() -> bool:
        return bool((await api.req("GET", f"/pairings/{pid}", MENTEE)).json()["state"] == "ended")

    await wait_for(ended)
    kinds = [kind for kind, _f in await _term_events(redis, pid)]
    assert kinds.count("pairing.term") == 1  # reminded once, though the sweeper ran many times
    assert (await api.req("GET", f"/sessions/{sid}", MENTOR)).json()["agenda"] is None  # shredded with it
    assert (await api.req("GET", f"/pairings/{pid}/agreement", MENTOR)).status_code == 410  # and the agreement

    async def announced() -> bool:
        return "pairing.ended" in [kind for kind, _f in await _term_events(redis, pid)]

    await wait_for(announced)
