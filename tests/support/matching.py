"""Matching test helpers: a small programme set up through the API (mentors' profiles, a questionnaire
with a special-category question, members' answers and preferences), and the raw rows as stored."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis

from services.sessions.config import Settings
from shared.db import create_engine
from tests.support.sessions import ADMIN, MENTEE, MENTOR, OTHER_MENTEE, OTHER_MENTOR, UNVETTED, Api

QUESTIONS: list[dict[str, Any]] = [
    {"id": "specialty", "kind": "single", "prompt": "Your field", "weight": 2.0,
     "options": [{"id": "midwifery", "label": "Midwifery"}, {"id": "surgery", "label": "Surgery"}]},
    {"id": "identity", "kind": "multiple", "prompt": "Do you identify as...", "special": True, "weight": 1.0,
     "options": [{"id": "indigenous", "label": "Indigenous"}, {"id": "black", "label": "Black"},
                 {"id": "poc", "label": "A person of colour"}]},
    {"id": "hopes", "kind": "text", "prompt": "What do you hope for?", "special": True},
]


async def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def profile(api: Api, who: str, capacity: int | None, languages: list[str], areas: list[str]) -> None:
    body: dict[str, Any] = {"bio": f"Biography of {who}", "languages": languages, "areas": areas}
    if capacity is not None:
        body["capacity"] = capacity
    await ok(await api.req("PUT", "/profiles/me", who, json=body))


async def answer(api: Api, who: str, answers: dict[str, Any], *, consent: bool = False) -> Any:
    version = (await ok(await api.req("GET", "/questionnaire", who)))["version"]
    return await api.req("PUT", "/questionnaire/answers/me", who,
                         json={"version": version, "answers": answers, "special_consent": consent})


async def programme(api: Api) -> None:
    """Two vetted mentors (one place each), an unvetted one, a questionnaire, everyone's answers."""
    await ok(await api.req("PUT", "/questionnaire", ADMIN, json={"questions": QUESTIONS}))
    await profile(api, MENTOR, 1, ["en"], ["midwifery"])
    await profile(api, OTHER_MENTOR, 1, ["fr"], ["surgery"])
    await profile(api, UNVETTED, 2, ["en"], ["midwifery"])
    await profile(api, MENTEE, None, ["en"], ["midwifery"])
    await profile(api, OTHER_MENTEE, None, ["fr"], ["surgery"])
    for who, field in ((MENTOR, "midwifery"), (MENTEE, "midwifery"), (OTHER_MENTOR, "surgery"),
                       (OTHER_MENTEE, "surgery")):
        await ok(await answer(api, who, {"specialty": field}))


async def stored_rows(settings: Settings, table: sa.Table) -> list[Any]:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.select(table))).all())
    finally:
        await engine.dispose()


async def stream_bytes(redis: Redis) -> bytes:
    """Every entry of every stream on this Redis, as one blob (events, audit, dead letters)."""
    out = b""
    async for key in redis.scan_iter(_type="stream"):
        for _id, fields in await redis.xrange(key):
            out += b"".join(k + v for k, v in fields.items())
    return out
