"""Reports decides which officers hear of a report: its report.* events name every active officer
except the report's subject, who must not learn that a case about them exists."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from services.reports.retention.service import flag_overdue
from shared.bus import RedisStreamBus
from shared.events import Event
from shared.events import types as t
from tests.reports.conftest import Api
from tests.reports.support import db_dump, stream_events

pytestmark = pytest.mark.integration


async def _project(api: Api, redis: Redis, *events: Event, officers: set[str]) -> None:
    bus = RedisStreamBus(redis, "gateway")
    for event in events:
        await bus.publish(event)
    for _ in range(200):
        rows = await db_dump(api.settings.database_url)
        if {r["user_id"] for name, r in rows if name == "officers" and r["safeguarding"]
                and not r["suspended"]} == officers:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the officers projection never caught up")


async def _events(api: Api, redis: Redis, report_id: str, n: int) -> dict[str, Any]:
    await api.relay()
    for _ in range(100):
        found = {e.type: e.payload() for e in await stream_events(redis, "tandem.report")
                 if e.payload().report_id == report_id}
        if len(found) >= n:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {n} events about {report_id}")


async def test_a_report_about_an_officer_is_not_announced_to_them(api: Api, redis: Redis) -> None:
    await _project(api, redis, t.UserCreated(user_id="officer-a", roles=["safeguarding"]),
                   t.UserCreated(user_id="officer-b", roles=["safeguarding", "mentor"]),
                   t.UserCreated(user_id="officer-c", roles=["safeguarding"]), t.UserSuspended(user_id="officer-c"),
                   officers={"officer-a", "officer-b"})
    api.ctx.clock = lambda: datetime(2020, 1, 6, 9, 0, tzinfo=UTC)  # so that it is overdue by now
    about_b = (await api.file(api.as_("mentee-1", "mentee"), person_id="officer-b", urgent=True))["id"]
    about_nobody = (await api.file(api.as_("mentee-1", "mentee")))["id"]

    told = await _events(api, redis, about_b, 2)
    assert told["report.filed"].notify == ("officer-a",)
    assert told["report.urgent"].notify == ("officer-a",)
    assert (await _events(api, redis, about_nobody, 1))["report.filed"].notify == (
        "officer-a", "officer-b")

    api.ctx.clock = lambda: datetime.now(UTC)
    assert sorted(await api.in_app(flag_overdue, api.runtime, api.ctx, datetime.now(UTC))) == sorted(
        [about_b, about_nobody])
    assert (await _events(api, redis, about_b, 3))["report.overdue"].notify == ("officer-a",)
    assert (await _events(api, redis, about_nobody, 2))["report.overdue"].notify == (
        "officer-a", "officer-b")


async def test_a_report_about_the_only_officer_names_nobody(api: Api, redis: Redis) -> None:
    """An empty list means nobody: it must never fall back to every officer."""
    await _project(api, redis, t.UserCreated(user_id="officer-a", roles=["safeguarding"]), officers={"officer-a"})
    rid = (await api.file(api.as_("mentee-1", "mentee"), person_id="officer-a"))["id"]
    assert (await _events(api, redis, rid, 1))["report.filed"].notify == ()
