"""Filing, reporter follow-up (account and receipt), case workflow, notes and messages."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from deploy.local.children import S3Child
from services.reports.app import create_app
from services.reports.concerns.service import add_working_days
from services.reports.config import Settings
from shared.config import ConfigError, load_settings
from tests.support.identity import TestIssuer
from tests.support.reports import CANARY, Api, SetClock, make_settings
from tests.support.reports_dump import stream_events

pytestmark = pytest.mark.integration

SG1, SG2 = "officer-1", "officer-2"


async def test_identified_concern_round_trip(api: Api) -> None:
    filed = await api.file(api.as_("mentee-1", "mentee"), category="safety", session_id="sess-9",
                           person_id="mentor-7", urgent=True,
                           attachments=[{"filename": "photo.png", "media_type": "image/png",
                                         "content": base64.b64encode(b"PNG" + CANARY.encode()).decode()}])
    assert filed["anonymous"] is False and filed["receipt"] is None and filed["state"] == "received"
    rid = filed["id"]

    mine = (await api.client.get("/mine", headers=api.as_("mentee-1", "mentee"))).json()
    assert [r["id"] for r in mine] == [rid]
    own = (await api.client.get(f"/mine/{rid}", headers=api.as_("mentee-1", "mentee"))).json()
    assert own["text"] == CANARY and own["person_id"] == "mentor-7" and own["attachments"][0]["size"] == 3 + len(CANARY)

    case = (await api.client.get(f"/cases/{rid}", headers=api.as_(SG1, "safeguarding"))).json()
    assert case["text"] == CANARY and case["session_id"] == "sess-9"
    assert case["reporter"] == {"anonymous": False, "revealed": False, "reporter_id": None}
    assert "mentee-1" not in str(case)
    att = case["attachments"][0]
    got = await api.client.get(f"/cases/{rid}/attachments/{att['id']}", headers=api.as_(SG1, "safeguarding"))
    assert got.status_code == 200 and got.content == b"PNG" + CANARY.encode()
    assert got.headers["content-type"].startswith("image/png")
    assert got.headers["content-disposition"].startswith("attachment;")

    sg = api.as_(SG1, "safeguarding")
    assert (await api.client.put(f"/cases/{rid}/assignee", json={"assignee_id": SG1}, headers=sg)).json()[
        "assignee_id"] == SG1
    # the person the report is about can never be its handler
    assert (await api.client.put(f"/cases/{rid}/assignee", json={"assignee_id": "mentor-7"},
                                 headers=sg)).status_code == 409
    assert (await api.client.put(f"/cases/{rid}/assignee", json={"assignee_id": "stranger"},
                                 headers=sg)).status_code == 409  # not a known safeguarding officer
    for illegal in ("investigating", "resolved", "closed", "received"):
        resp = await api.client.post(f"/cases/{rid}/transitions", json={"to": illegal}, headers=sg)
        assert resp.status_code == 409, illegal
        assert resp.headers["content-type"].startswith("application/problem+json")
    moved = await api.client.post(f"/cases/{rid}/transitions", json={"to": "acknowledged"}, headers=sg)
    assert moved.status_code == 200 and moved.json()["state"] == "acknowledged" and moved.json()["acknowledged_at"]
    assert (await api.client.post(f"/cases/{rid}/transitions", json={"to": "bogus"}, headers=sg)).status_code == 400

    assert (await api.client.post(f"/cases/{rid}/notes", json={"text": "internal: call HR"}, headers=sg)
            ).status_code == 201
    assert (await api.client.post(f"/cases/{rid}/messages", json={"text": "We are looking into it."},
                                  headers=sg)).status_code == 201
    assert (await api.client.post(f"/mine/{rid}/messages", json={"text": "Thank you"},
                                  headers=api.as_("mentee-1", "mentee"))).status_code == 201
    own = (await api.client.get(f"/mine/{rid}", headers=api.as_("mentee-1", "mentee"))).json()
    assert [(m["sender"], m["text"], m["author_id"]) for m in own["messages"]] == [
        ("safeguarding", "We are looking into it.", None), ("reporter", "Thank you", None)]
    assert "internal: call HR" not in str(own)  # internal notes never reach the reporter
    case = (await api.client.get(f"/cases/{rid}", headers=sg)).json()
    assert [n["text"] for n in case["notes"]] == ["internal: call HR"]
    assert case["messages"][0]["author_id"] == SG1 and case["messages"][1]["author_id"] is None

    for step in ("investigating", "resolved", "closed"):
        assert (await api.client.post(f"/cases/{rid}/transitions", json={"to": step}, headers=sg)).status_code == 200
    closed = (await api.client.get(f"/cases/{rid}", headers=sg)).json()["case"]
    assert closed["state"] == "closed" and closed["closed_at"]
    assert (await api.client.post(f"/cases/{rid}/messages", json={"text": "late"}, headers=sg)).status_code == 409


async def test_anonymous_follow_up_by_receipt(api: Api) -> None:
    filed = await api.file(api.public(), category="harassment_discrimination")
    assert filed["anonymous"] is True and filed["id"] is None
    receipt = filed["receipt"]
    _lookup, secret = receipt.split(".")
    assert len(secret) == 32 and len(base64.urlsafe_b64decode(secret + "==")) * 8 >= 128
    header = {api.settings.receipt_header: receipt}
    view = await api.client.get("/receipt", headers=api.public(**header))
    assert view.status_code == 200 and view.json()["text"] == CANARY and view.json()["id"] is None

    listing = (await api.client.get("/cases", headers=api.as_(SG1, "safeguarding"))).json()
    rid = listing[0]["id"]
    assert listing[0]["anonymous"] is True
    await api.client.post(f"/cases/{rid}/messages", json={"text": "Can you tell us more?"},
                          headers=api.as_(SG1, "safeguarding"))
    posted = await api.client.post("/receipt/messages", json={"text": "It happened twice."},
                                   headers=api.public(**header))
    assert posted.status_code == 201
    view = (await api.client.get("/receipt", headers=api.public(**header))).json()
    assert [(m["sender"], m["text"]) for m in view["messages"]] == [
        ("safeguarding", "Can you tell us more?"), ("reporter", "It happened twice.")]
    case = (await api.client.get(f"/cases/{rid}", headers=api.as_(SG1, "safeguarding"))).json()
    assert case["reporter"] == {"anonymous": True, "revealed": False, "reporter_id": None}
    # Nothing to reveal on an anonymous report.
    resp = await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": "need to call them"},
                                 headers=api.as_(SG1, "safeguarding"))
    assert resp.status_code == 409


async def test_size_caps_and_validation(api: Api) -> None:
    headers = api.as_("mentee-1", "mentee")
    too_long = await api.client.post("/concerns", json={"category": "other", "text": "x" * 20_001}, headers=headers)
    assert too_long.status_code == 413
    assert CANARY not in too_long.text
    big = base64.b64encode(b"\0" * (api.settings.max_attachment_bytes + 1)).decode()
    resp = await api.client.post("/concerns", json={"category": "other", "text": CANARY, "attachments": [
        {"filename": "a.bin", "media_type": "application/octet-stream", "content": big}]}, headers=headers)
    assert resp.status_code == 413 and CANARY not in resp.text
    many = [{"filename": f"{i}.txt", "media_type": "text/plain", "content": "aGk="} for i in range(6)]
    assert (await api.client.post("/concerns", json={"category": "other", "text": "t", "attachments": many},
                                  headers=headers)).status_code == 413
    bad = await api.client.post("/concerns", json={"category": "gossip", "text": CANARY}, headers=headers)
    assert bad.status_code == 400 and CANARY not in bad.text
    assert (await api.client.post("/concerns", json={"category": "other", "text": "   "},
                                  headers=headers)).status_code == 422
    assert (await api.client.post("/concerns", json={"category": "other", "text": "hi", "ip": "1.2.3.4"},
                                  headers=headers)).status_code == 400


async def test_public_form_is_rate_limited_per_client_hash(api: Api, redis: Redis) -> None:
    for _ in range(api.settings.filings_per_hour):
        await api.file(api.public(**{"tandem-client-hash": "a" * 32}))
    resp = await api.client.post("/concerns", json={"category": "other", "text": "x"},
                                 headers=api.public(**{"tandem-client-hash": "a" * 32}))
    assert resp.status_code == 429
    await api.file(api.public(**{"tandem-client-hash": "b" * 32}))  # another client is unaffected
    keys = [k.decode() for k in await redis.keys("reports:rl:*")]
    assert keys and not any("a" * 32 in k or "b" * 32 in k for k in keys)  # buckets are hashed again


def test_working_days_skip_weekends() -> None:
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert add_working_days(friday, 2) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday
    saturday = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert add_working_days(saturday, 2) == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # Monday 00:00 + 2
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert add_working_days(monday, 2) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def test_oversized_request_is_413_problem(api: Api) -> None:
    huge = "x" * api.settings.request_max_body_size
    resp = await api.client.post("/concerns", json={"category": "other", "text": huge},
                                 headers=api.as_("mentee-1", "mentee"))
    assert resp.status_code == 413
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_settings_are_validated(tmp_path: Path) -> None:
    assert Settings().ack_working_days == 2 and Settings().retention_days == 730
    for bad in ({"max_attachments": -1}, {"ack_working_days": 0}, {"retention_days": 0}, {"argon2_memory_kib": 1},
                {"max_text_chars": 5}, {"sweep_interval_s": -1.0}):
        with pytest.raises(ConfigError, match="REPORTS_"):
            Settings(**bad)  # type: ignore[arg-type]
    loaded = load_settings(Settings, "REPORTS", {"REPORTS_RETENTION_DAYS": "30", "REPORTS_ACK_WORKING_DAYS": "3"})
    assert loaded.retention_days == 30 and loaded.ack_working_days == 3


async def test_sweeper_runs_in_the_background(tmp_path: Path, db_url: str, redis_url: str, s3_server: S3Child,
                                              issuer: TestIssuer, insecure_fast_argon2: dict[str, int],
                                              redis: Redis) -> None:
    settings = make_settings(tmp_path, db_url, redis_url, s3_server, issuer, sweep_interval_s=0.1,
                             **insecure_fast_argon2)
    clock = SetClock()
    async with issuer.bind(AsyncTestClient(create_app(settings, clock=clock))) as client:
        api = Api(client, issuer, settings, clock)
        api.clock.at = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)  # long overdue by now
        await api.file(api.as_("mentee-1", "mentee"))
        api.clock.at = None
        for _ in range(100):
            if any(e.type == "report.overdue" for e in await stream_events(redis, "tandem.report")):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the sweeper never flagged the overdue report")
