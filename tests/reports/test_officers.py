"""Assignment goes to active safeguarding officers only, known from the tandem.user projection; the
reports group consumes every user event (none left pending) and records nobody else."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from shared.bus import RedisStreamBus
from shared.events import types as t
from tests.support.reports import Api
from tests.support.reports_dump import db_dump

pytestmark = pytest.mark.integration


async def _assign_status(api: Api, rid: str, assignee: str, want: int) -> int:
    status = 0
    for _ in range(100):
        resp = await api.client.put(f"/cases/{rid}/assignee", json={"assignee_id": assignee},
                                    headers=api.as_("officer-1", "safeguarding"))
        status = resp.status_code
        if status == want:
            break
        await asyncio.sleep(0.05)
    return status


async def test_assignment_follows_the_user_projection(api: Api, redis: Redis) -> None:
    rid = (await api.file(api.as_("mentee-1", "mentee")))["id"]
    sg = api.as_("officer-1", "safeguarding")
    # Self-assignment needs no projection: the assertion proves the role.
    assert (await api.client.put(f"/cases/{rid}/assignee", json={"assignee_id": "officer-1"},
                                 headers=sg)).status_code == 200
    assert (await api.client.put(f"/cases/{rid}/assignee", json={"assignee_id": "officer-2"},
                                 headers=sg)).status_code == 409

    bus = RedisStreamBus(redis, "gateway")
    await bus.publish(t.UserCreated(user_id="officer-2", roles=["safeguarding", "mentor"]))
    await bus.publish(t.UserCreated(user_id="mentee-9", roles=["mentee"]))
    await bus.publish(t.UserErasureRequested(user_id="mentee-9", request_id="er-1"))
    assert await _assign_status(api, rid, "officer-2", 200) == 200
    assert (await api.client.put(f"/cases/{rid}/assignee", json={"assignee_id": "mentee-9"},
                                 headers=sg)).status_code == 409

    await bus.publish(t.UserSuspended(user_id="officer-2"))
    assert await _assign_status(api, rid, "officer-2", 409) == 409
    await bus.publish(t.UserReactivated(user_id="officer-2"))
    assert await _assign_status(api, rid, "officer-2", 200) == 200
    await bus.publish(t.UserRolesChanged(user_id="officer-2", roles=["mentor"]))
    assert await _assign_status(api, rid, "officer-2", 409) == 409
    assert (await api.client.put(f"/cases/{rid}/assignee", json={"assignee_id": None}, headers=sg)).json()[
        "assignee_id"] is None

    rows = await db_dump(api.settings.database_url)
    assert [r["user_id"] for tname, r in rows if tname == "officers"] == ["officer-2"]  # nobody else
    for _ in range(100):
        pending = await redis.xpending("tandem.user", "reports")
        if pending["pending"] == 0:
            break
        await asyncio.sleep(0.05)
    assert pending["pending"] == 0
