"""Presence in the hub (real Redis): two members joining at the same moment, on one instance or two,
must not both be told the other is already there. Both would then send an offer, the offers would
cross, and the call would not connect (the clients offer only when `peer_present` says so)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from services.sessions.meetings.rooms import Room
from services.sessions.signalling.hub import Conn, Hub

pytestmark = pytest.mark.integration

MENTOR, MENTEE = "u-mentor", "u-mentee"


def room(session_id: str) -> Room:
    now = datetime.now(UTC)
    return Room(session_id=session_id, pairing_id="p-1", members=(MENTOR, MENTEE), starts_at=now,
                ends_at=now + timedelta(hours=1))


async def _never(code: int, reason: str) -> None:  # the sockets are not real here
    return None


@pytest.fixture
async def hubs(redis_url: str) -> AsyncIterator[tuple[Hub, Hub]]:
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    pair = (Hub(clients[0], grace_s=10.0), Hub(clients[1], grace_s=10.0))
    for hub in pair:
        await hub.start()
    yield pair
    for hub in pair:
        await hub.stop()
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize("where", ["one instance", "two instances"])
async def test_simultaneous_joins_leave_exactly_one_offerer(hubs: tuple[Hub, Hub], where: str) -> None:
    for n in range(40):
        r = room(f"s-{where[:3]}-{n}")
        first, second = (hubs[0], hubs[0]) if where == "one instance" else hubs
        results = await asyncio.gather(first.register(Conn(MENTOR, r, _never)),
                                       second.register(Conn(MENTEE, r, _never)))
        present = [peer_present for _, peer_present in results]
        assert sorted(present) == [False, True], (n, present)


async def test_the_second_to_join_sees_the_first(hubs: tuple[Hub, Hub]) -> None:
    r = room("s-seq")
    assert await hubs[0].register(Conn(MENTOR, r, _never)) == (False, False)
    assert await hubs[1].register(Conn(MENTEE, r, _never)) == (False, True)
    # The mentor reconnects (a new socket): resumed, and the mentee is there.
    assert await hubs[1].register(Conn(MENTOR, r, _never)) == (True, True)


async def test_a_member_away_within_the_grace_counts_as_present(hubs: tuple[Hub, Hub]) -> None:
    r = room("s-grace")
    mentor = Conn(MENTOR, r, _never)
    await hubs[0].register(mentor)
    assert await hubs[0].unregister(mentor, left=False)
    assert await hubs[1].register(Conn(MENTEE, r, _never)) == (False, True)
    # Leaving on purpose ends presence at once.
    mentee = Conn(MENTEE, r, _never)
    await hubs[1].register(mentee)
    await hubs[1].unregister(mentee, left=True)
    assert await hubs[0].register(Conn(MENTEE, r, _never)) == (False, True)  # the mentor is still away
