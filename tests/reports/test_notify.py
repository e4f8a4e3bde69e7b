"""Reports withholds a report from its subject when the subject is an officer: its report.* events name
them in `withheld_from` (the gateway tells every active officer but them), so an officer never learns of
a case about them. Any other subject's id never enters an event (reports keeps it only as a keyed tag)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from shared.bus import RedisStreamBus
from shared.events import Event
from shared.events import types as t
from tests.support.reports import Api
from tests.support.reports_dump import db_dump, stream_events

pytestmark = pytest.mark.integration


async def _project(api: Api, redis: Redis, *events: Event, officers: set[str]) -> None:
    bus = RedisStreamBus(redis, "gateway")
    for event in events:
        await bus.publish(event)
    for _ in range(200):
        rows = await db_dump(api.settings.database_url)
        if {r["user_id"] for name, r in rows if name == "officers" and r["safeguarding"]} == officers:
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


async def test_a_report_about_an_officer_is_withheld_from_them_on_every_event(api: Api, redis: Redis) -> None:
    await _project(api, redis, t.UserCreated(user_id="officer-a", roles=["safeguarding"]),
                   t.UserCreated(user_id="officer-b", roles=["safeguarding", "mentor"]),
                   officers={"officer-a", "officer-b"})
    api.clock.at = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)  # so that it is overdue by now
    about_b = (await api.file(api.as_("mentee-1", "mentee"), person_id="officer-b", urgent=True))["id"]
    about_mentor = (await api.file(api.as_("mentee-1", "mentee"), person_id="mentor-7"))["id"]
    about_nobody = (await api.file(api.as_("mentee-1", "mentee")))["id"]

    told = await _events(api, redis, about_b, 2)
    assert told["report.filed"].withheld_from == ("officer-b",)
    assert told["report.urgent"].withheld_from == ("officer-b",)
    # A subject who is no officer would be told nothing anyway: their id stays out of the event.
    assert (await _events(api, redis, about_mentor, 1))["report.filed"].withheld_from == ()
    assert (await _events(api, redis, about_nobody, 1))["report.filed"].withheld_from == ()

    api.clock.at = None
    assert sorted(await api.in_app(api.ctx.retention.flag_overdue, datetime.now(UTC))) == sorted(
        [about_b, about_mentor, about_nobody])
    assert (await _events(api, redis, about_b, 3))["report.overdue"].withheld_from == ("officer-b",)
    assert (await _events(api, redis, about_mentor, 2))["report.overdue"].withheld_from == ()
