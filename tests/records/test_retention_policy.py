"""`GET /retention/policy`: the live retention settings, for admins only, typed in OpenAPI."""

from __future__ import annotations

import pytest

from tests.support.records import Harness

pytestmark = pytest.mark.integration


async def test_admins_read_the_live_policy_and_nobody_else(harness: Harness) -> None:
    h = harness
    resp = await h.client.get("/retention/policy", headers=h.h("u-admin", "admin"))
    assert resp.status_code == 200, resp.text
    s = h.settings
    assert resp.json() == {
        "recording_retention_days": s.recording_retention_days, "note_retention_days": s.note_retention_days,
        "sweep_interval_s": s.sweep_interval_s, "lifecycle_backstop_days": s.lifecycle_backstop_days,
        "dispute_window_hours": s.dispute_window_hours, "dispute_max_window_hours": s.dispute_max_window_hours,
        "dispute_break_glass_hours": s.dispute_break_glass_hours}
    for sub, role in (("u-mentee", "mentee"), ("u-mentor", "mentor"), ("u-safe", "safeguarding"),
                      ("u-op", "operator"), ("svc", "service")):
        denied = await h.client.get("/retention/policy", headers=h.h(sub, role))
        assert denied.status_code == 403, (role, denied.text)
        assert denied.headers["content-type"].startswith("application/problem+json")
    assert (await h.client.get("/retention/policy")).status_code == 401
    schema = (await h.client.get("/schema/openapi.json")).json()
    response = schema["paths"]["/retention/policy"]["get"]["responses"]["200"]
    ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) >= {"recording_retention_days",
                                                                       "note_retention_days"}
