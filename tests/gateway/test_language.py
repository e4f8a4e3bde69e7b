"""Each person's language for the web app (issue 17, item 7): en or fr, their own, audited with ids only."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from shared.events import decode_envelope
from shared.events.types import AuditEntry
from tests.support.gateway import Harness

pytestmark = pytest.mark.integration


async def test_a_person_chooses_their_language(harness: Harness, redis: Redis) -> None:
    h = harness
    mia = await h.user("mia@example.org", ["mentee"])
    assert (await h.client.get("/me", headers=mia.headers())).json()["language"] is None  # the browser's
    r = await h.client.put("/me/language", headers=mia.headers(), json={"language": "fr"})
    assert r.status_code == 200 and r.json() == {"language": "fr"}
    assert (await h.client.get("/me", headers=mia.headers())).json()["language"] == "fr"
    max_ = await h.user("max@example.org", ["mentor"])
    assert (await h.client.get("/me", headers=max_.headers())).json()["language"] is None
    for body in ({"language": "de"}, {"language": "FR"}, {"language": None}, {}, {"language": "fr", "x": 1}):
        refused = await h.client.put("/me/language", headers=mia.headers(), json=body)
        assert refused.status_code == 400, body
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await h.client.get("/me", headers=mia.headers())).json()["language"] == "fr"
    entries = [decode_envelope(fields[b"envelope"]).payload(AuditEntry)
               for _id, fields in await redis.xrange("tandem.audit")]
    assert [(e.actor, e.target) for e in entries if e.action == "user.language_change"] == [
        (mia.user_id, f"user:{mia.user_id}")]
