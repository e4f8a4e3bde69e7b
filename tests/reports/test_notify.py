"""Reports withholds a report from its subject: its report.* events name the subject in `withheld_from`
(the gateway then tells every active officer but them), so an officer never learns of a case about them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from services.reports.retention.service import flag_overdue
from tests.reports.conftest import Api
from tests.reports.support import stream_events

pytestmark = pytest.mark.integration


async def _events(api: Api, redis: Redis, report_id: str, n: int) -> dict[str, Any]:
    await api.relay()
    for _ in range(100):
        found = {e.type: e.payload() for e in await stream_events(redis, "tandem.report")
                 if e.payload().report_id == report_id}
        if len(found) >= n:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {n} events about {report_id}")


async def test_a_report_is_withheld_from_its_subject_on_every_event(api: Api, redis: Redis) -> None:
    api.ctx.clock = lambda: datetime(2020, 1, 6, 9, 0, tzinfo=UTC)  # so that it is overdue by now
    about_b = (await api.file(api.as_("mentee-1", "mentee"), person_id="officer-b", urgent=True))["id"]
    about_nobody = (await api.file(api.as_("mentee-1", "mentee")))["id"]

    told = await _events(api, redis, about_b, 2)
    assert told["report.filed"].withheld_from == ("officer-b",)
    assert told["report.urgent"].withheld_from == ("officer-b",)
    assert (await _events(api, redis, about_nobody, 1))["report.filed"].withheld_from == ()

    api.ctx.clock = lambda: datetime.now(UTC)
    assert sorted(await api.in_app(flag_overdue, api.runtime, api.ctx, datetime.now(UTC))) == sorted(
        [about_b, about_nobody])
    assert (await _events(api, redis, about_b, 3))["report.overdue"].withheld_from == ("officer-b",)
    assert (await _events(api, redis, about_nobody, 2))["report.overdue"].withheld_from == ()
