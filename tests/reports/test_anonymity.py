"""Anonymous reporting: nothing stored, published or logged identifies the reporter, receipts open
exactly one report, and a wrong receipt runs the same argon2 verification and fails the same way."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from argon2 import PasswordHasher
from redis.asyncio import Redis

from tests.support.reports import CANARY, Api
from tests.support.reports_dump import contains, db_dump, redis_dump, stream_events

pytestmark = pytest.mark.integration

ACCOUNT = "mentee-5b1e-account"
IP = "198.51.100.23"
UA = "UA-CANARY/9.9 (X11; Reporter)"
CLIENT_HASH = "c" * 40  # what the gateway forwards instead of the IP


def browser_headers() -> dict[str, str]:
    return {"user-agent": UA, "x-forwarded-for": IP, "x-real-ip": IP, "forwarded": f"for={IP}",
            "tandem-client-hash": CLIENT_HASH}


async def _wait_events(redis: Redis, stream: str, n: int) -> list[Any]:
    for _ in range(100):
        events = await stream_events(redis, stream)
        if len(events) >= n:
            return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"{stream}: expected {n} events")


async def test_anonymous_filing_leaves_no_trace_of_the_reporter(log_stream: io.StringIO, api: Api,
                                                                redis: Redis) -> None:
    headers = api.public(**browser_headers())
    filed = await api.file(headers, anonymous=True, urgent=True, category="safety")
    receipt = filed["receipt"]
    assert receipt and filed["id"] is None
    follow = {**headers, api.settings.receipt_header: receipt}
    assert (await api.client.get("/receipt", headers=follow)).status_code == 200
    assert (await api.client.post("/receipt/messages", json={"text": "more detail"}, headers=follow)).status_code == 201
    await api.relay()
    report_events = await _wait_events(redis, "tandem.report", 2)
    await _wait_events(redis, "tandem.audit", 3)

    rows = await db_dump(api.settings.database_url)
    report = next(r for t, r in rows if t == "reports")
    assert report["anonymous"] is True and report["reporter_tag"] is None
    secret = receipt.split(".")[1]
    everything = {"db": rows, "redis": await redis_dump(redis), "logs": log_stream.getvalue()}
    assert "reports.filed" in everything["logs"] and "/receipt" in everything["logs"]  # logs were captured
    for needle in (ACCOUNT, IP, UA, "UA-CANARY", CLIENT_HASH, secret, receipt):
        assert contains(rows, needle) == [], needle
        assert needle not in everything["redis"], needle
        assert needle not in everything["logs"], needle
    # The events carry ids and facts only.
    filed_event = next(e for e in report_events if e.type == "report.filed")
    assert set(filed_event.payload().__struct_fields__) == {"report_id", "category", "urgent", "withheld_from"}
    assert sorted({e.id: e.type for e in report_events}.values()) == ["report.filed", "report.urgent"]
    audit = await stream_events(redis, "tandem.audit")
    assert {e.payload().actor for e in audit} <= {"anonymous", "receipt-holder"}


async def test_an_anonymous_filing_that_comes_with_an_account_is_refused(log_stream: io.StringIO, api: Api,
                                                                         redis: Redis) -> None:
    """The gateway would have seen the account (its session, its rate counters): anonymous filings must
    come without credentials, so one that names an account is refused and leaves nothing behind, not even
    the account id on the refusal's log line."""
    headers = api.as_(ACCOUNT, "mentee", **browser_headers())
    r = await api.client.post("/concerns", json={"category": "safety", "text": CANARY, "anonymous": True},
                              headers=headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/anonymous-with-credentials")
    rows = await db_dump(api.settings.database_url)
    assert [r for t, r in rows if t == "reports"] == []
    logs = log_stream.getvalue()
    assert "/concerns" in logs  # the request's line was captured
    for needle in (ACCOUNT, CANARY):
        assert needle not in logs and needle not in await redis_dump(redis), needle


async def test_identified_filing_is_linked_to_the_account(api: Api) -> None:
    filed = await api.file(api.as_(ACCOUNT, "mentee", **browser_headers()))
    rows = await db_dump(api.settings.database_url)
    report = next(r for t, r in rows if t == "reports")
    assert report["reporter_tag"] and len(report["reporter_tag"]) == 64  # a keyed tag, not the id
    for needle in (ACCOUNT, IP, UA, CLIENT_HASH):
        assert contains(rows, needle) == [], needle
    assert filed["id"]


class CountingHasher(PasswordHasher):
    """The real argon2id hasher, recording which hash each verification ran against."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


async def test_wrong_receipts_run_the_same_verification_and_fail_alike(api: Api) -> None:
    receipts = api.ctx.concerns.receipts
    spy = CountingHasher(time_cost=1, memory_cost=8, parallelism=1)
    receipts.hasher = spy
    good = (await api.file(api.public()))["receipt"]
    lookup, secret = good.split(".")
    rows = await db_dump(api.settings.database_url)
    stored = next(r["receipt_hash"] for t, r in rows if t == "reports")
    assert stored.startswith("$argon2id$") and secret not in stored

    cases = {
        "unknown id": ("A" * 16 + "." + secret, receipts.dummy_hash),
        "wrong secret": (lookup + "." + "B" * 32, stored),
        "malformed": ("not-a-receipt", receipts.dummy_hash),
        "missing": (None, receipts.dummy_hash),
    }
    answers = []
    for label, (receipt, expected_hash) in cases.items():
        spy.verified.clear()
        headers = api.public() if receipt is None else api.public(**{api.settings.receipt_header: receipt})
        resp = await api.client.get("/receipt", headers=headers)
        assert resp.status_code == 404, label
        assert spy.verified == [expected_hash], label  # exactly one argon2 verification, on every path
        answers.append((resp.json(), resp.headers["content-type"]))
        posted = await api.client.post("/receipt/messages", json={"text": "hello"}, headers=headers)
        assert posted.status_code == 404 and posted.json()["detail"] == resp.json()["detail"], label
    assert all(a == answers[0] for a in answers)
    spy.verified.clear()
    ok = await api.client.get("/receipt", headers=api.public(**{api.settings.receipt_header: good}))
    assert ok.status_code == 200 and spy.verified == [stored]


async def test_receipt_guessing_is_rate_limited(api: Api) -> None:
    lookup = (await api.file(api.public()))["receipt"].split(".")[0]
    statuses = []
    for i in range(api.settings.receipt_attempts_per_id_per_hour + 1):
        guess = f"{lookup}.{str(i).rjust(32, 'x')}"
        # a different client each time: the per-receipt limit still holds
        resp = await api.client.get("/receipt", headers=api.public(**{
            api.settings.receipt_header: guess, "tandem-client-hash": f"{i:040d}"}))
        statuses.append(resp.status_code)
    assert statuses[:-1] == [404] * api.settings.receipt_attempts_per_id_per_hour and statuses[-1] == 429


async def test_report_text_never_reaches_the_logs(log_stream: io.StringIO, api: Api) -> None:
    sg = api.as_("officer-1", "safeguarding")
    filed = await api.file(api.as_("mentee-1", "mentee"), person_id="mentor-7")
    rid = filed["id"]
    await api.client.get(f"/cases/{rid}", headers=sg)
    await api.client.post(f"/cases/{rid}/notes", json={"text": CANARY + " note"}, headers=sg)
    await api.client.post(f"/cases/{rid}/messages", json={"text": CANARY + " message"}, headers=sg)
    await api.client.post(f"/mine/{rid}/messages", json={"text": CANARY + " reply"},
                          headers=api.as_("mentee-1", "mentee"))
    await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": CANARY + " reason"}, headers=sg)
    await api.client.post("/concerns", json={"category": "other", "text": CANARY * 1000},
                          headers=api.as_("mentee-1", "mentee"))  # rejected: too long
    await api.client.post("/concerns", json={"category": "nope", "text": CANARY},
                          headers=api.as_("mentee-1", "mentee"))  # rejected: bad category
    logs = log_stream.getvalue()
    assert "reports.filed" in logs and rid in logs  # the log is being captured
    for fragment in (CANARY, "Quentin", "CANARY-7f3a"):
        assert fragment not in logs


async def test_an_identified_reporters_requests_are_logged_without_the_account(log_stream: io.StringIO,
                                                                              api: Api) -> None:
    """Only the two-officer reveal links a reporter to a report: the logs may not. Filing, listing,
    reading and writing to one's own report are logged by report id, never with the account id."""
    headers = api.as_(ACCOUNT, "mentee")
    filed = await api.file(headers, anonymous=False)
    report_id = filed["id"]
    assert (await api.client.get("/mine", headers=headers)).status_code == 200
    assert (await api.client.get(f"/mine/{report_id}", headers=headers)).status_code == 200
    assert (await api.client.post(f"/mine/{report_id}/messages", json={"text": "more"},
                                  headers=headers)).status_code == 201
    logs = log_stream.getvalue()
    assert report_id in logs and "reports.filed" in logs  # the lines were captured
    assert ACCOUNT not in logs
