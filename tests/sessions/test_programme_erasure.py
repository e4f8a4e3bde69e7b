"""A member's erasure reaches the programme features (issue 17): profile, questionnaire answers,
preferences, conflicts naming them, check-in plan and answers, reflections; other members' stay."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from services.sessions.checkins.tables import answers as checkin_answers
from services.sessions.matching.tables import conflicts, preferences
from services.sessions.profiles.tables import profiles
from services.sessions.questionnaire.tables import answers
from shared.bus import RedisStreamBus
from shared.events import types as t
from tests.support.matching import answer, ok, programme, stored_rows
from tests.support.rawdb import database_bytes
from tests.support.sessions import ADMIN, MENTEE, MENTOR, OTHER_MENTEE, Api, wait_for

pytestmark = pytest.mark.integration


async def test_erasure_deletes_the_members_programme_data_and_only_theirs(api: Api, redis: Redis) -> None:
    settings = api.client.app.state.settings
    canary = f"ERASED-{secrets.token_hex(6)}"
    await programme(api)
    await ok(await answer(api, MENTEE, {"specialty": "midwifery", "identity": ["poc"], "hopes": canary},
                          consent=True))
    await ok(await api.req("PUT", "/matching/preferences/me", MENTEE, json={"match_me": True}))
    await ok(await api.req("PUT", "/matching/preferences/me", OTHER_MENTEE, json={"match_me": True}))
    await ok(await api.req("POST", "/matching/conflicts", MENTEE, json={"mentor_id": MENTOR}), 201)
    await ok(await api.req("PUT", "/checkins/settings", ADMIN, json={"enabled": True}))
    await ok(await api.req("POST", "/checkins/plans", ADMIN, json={
        "user_id": MENTEE, "first_due_at": datetime.now(UTC).replace(microsecond=0).isoformat()}), 201)
    await ok(await api.req("POST", "/checkins/me", MENTEE, json={
        "progressing": "yes", "uncomfortable": False, "wants_contact": False, "comment": canary}), 201)
    pid = await api.active_pairing()
    await ok(await api.req("PUT", f"/pairings/{pid}/reflection", MENTEE, json={"text": canary}))

    (mine,) = [r for r in await stored_rows(settings, answers) if r.user_id == MENTEE]
    request = t.UserErasureRequested(user_id=MENTEE, request_id=secrets.token_hex(8))
    await RedisStreamBus(redis, "gateway").publish(request)

    async def erased() -> bool:
        return not [r for r in await stored_rows(settings, answers) if r.user_id == MENTEE]

    await wait_for(erased)
    for table, column, others in ((profiles, "user_id", True), (answers, "user_id", True),
                                  (preferences, "mentee_id", True), (checkin_answers, "user_id", False)):
        left = [getattr(r, column) for r in await stored_rows(settings, table)]
        assert MENTEE not in left, table.name
        assert bool(left) == others, f"{table.name}: other members' rows must stay"
    assert [r for r in await stored_rows(settings, conflicts) if MENTEE in (r.mentee_id, r.declared_by)] == []
    assert (await api.req("GET", f"/pairings/{pid}/reflection", MENTEE)).status_code in (200, 404)

    if settings.database_url.startswith("sqlite"):
        # secure_delete and the WAL truncated: the answers' wrapped keys are not left in free pages.
        stored = await database_bytes(settings.database_url)
        assert mine.wrapped_dek not in stored and mine.special_wrapped_dek not in stored
    assert (await ok(await api.req("GET", "/profiles/me", OTHER_MENTEE)))["areas"] == ["surgery"]
