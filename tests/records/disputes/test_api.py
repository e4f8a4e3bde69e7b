"""The disputes API surface: roles on every endpoint, bad input → problem+json, OpenAPI, settings,
races between deciders, the accessor-id setting, and sessions known only from recordings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from deploy.local.children import S3Child
from services.records.config import Settings
from shared.config import ConfigError
from shared.events.types import RecordAccessed
from tests.support.disputes import (
    A1,
    A2,
    A3,
    MENTEE,
    MENTOR,
    REASON,
    Clock,
    World,
    build_world,
    dispute_settings,
    problem,
)
from tests.support.identity import TestIssuer
from tests.support.records import open_harness

pytestmark = pytest.mark.integration

ROLES = {"mentee": ["mentee"], "mentor": ["mentor"], "safeguarding": ["safeguarding"], "operator": ["operator"],
         "service": ["service"], "admin": ["admin"]}


async def test_roles_on_every_dispute_endpoint(world: World) -> None:
    w, client = world, world.h.client
    a = w.s1[0]
    did = await w.open("s1")
    body = {"reason": "a reason"}
    admin_only: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/disputes", {}), ("GET", f"/disputes/{did}", {}), ("GET", f"/disputes/{did}/records", {}),
        ("POST", f"/disputes/{did}/request-access", {"admin_ids": [A2], "record_ids": [a], **body}),
        ("POST", f"/disputes/{did}/approve", body), ("POST", f"/disputes/{did}/reject", body),
        ("POST", f"/disputes/{did}/break-glass", {"record_ids": [a], **body}),
        ("POST", f"/disputes/{did}/review", {"verdict": "justified", **body}),
        ("POST", f"/disputes/{did}/close", {"outcome": "resolved", **body}),
        ("POST", "/disputes/break-glass", {"session_id": "s1", "record_ids": [a], **body}),
        ("GET", f"/disputes/{did}/records/{a}/content", {}),
    ]
    for method, path, data in admin_only:
        for name, roles in ROLES.items():
            if name == "admin":
                continue
            resp = await client.request(method, path, headers=w.hdr(MENTEE if name == "mentee" else "x", *roles),
                                        **({"json": data} if method == "POST" else {}))  # type: ignore[arg-type]
            problem(resp, 403)
        assert (await client.request(method, path)).status_code == 401
    # Members only: their own disputes; opening: members (own sessions) and admins.
    for name in ("admin", "safeguarding", "operator", "service"):
        problem(await client.get("/disputes/mine", headers=w.hdr("x", *ROLES[name])), 403)
    for name in ("safeguarding", "operator", "service"):
        problem(await w.post("/disputes", w.hdr("x", *ROLES[name]), session_id="s1", reason=REASON), 403)
    problem(await w.post("/disputes", w.hdr("u-other", "mentor"), session_id="s1", reason=REASON), 404,
            "session-not-found")
    problem(await w.post("/disputes", w.admin(A1), session_id="s-unknown", reason=REASON), 404, "session-not-found")
    assert (await w.post("/disputes", w.mentor, session_id="s1", reason=REASON)).json()["opened_by_role"] == "mentor"
    # s2 was never scheduled through the sessions events: the recordings' metadata names its pairing.
    resp = await w.post("/disputes", w.admin(A1), session_id="s2", reason=REASON)
    assert resp.status_code == 201 and resp.json()["pairing_id"] == "p1"


async def test_bad_input_is_problem_json(world: World) -> None:
    w, client = world, world.h.client
    a, b = w.s1
    did = await w.open("s1")
    for bad in ({}, {"session_id": "s1"}, {"session_id": "s1", "reason": ""},
                {"session_id": "s1", "reason": "x" * 4001}, {"session_id": "s 1", "reason": REASON},
                {"session_id": "s1", "reason": REASON, "extra": 1}):
        problem(await client.post("/disputes", headers=w.mentee, json=bad), 400, "validation-error")
    problem(await client.post("/disputes", headers={**w.mentee, "content-type": "application/json"},
                              content=b"{not json"), 400)
    ask: dict[str, Any] = {"admin_ids": [A2], "record_ids": [a], "reason": "need it"}
    for bad in ({**ask, "admin_ids": []}, {**ask, "record_ids": []}, {**ask, "window_hours": 0},
                {**ask, "window_hours": 200}, {**ask, "record_ids": ["../x"]}):
        problem(await w.post(f"/disputes/{did}/request-access", w.admin(A1), **bad), 400, "validation-error")
    body = problem(await w.post(f"/disputes/{did}/request-access", w.admin(A1), **{**ask, "record_ids": [a, w.s2[0]]}),
                   422, "record-not-in-session")
    assert body["record_ids"] == [w.s2[0]]
    problem(await w.post(f"/disputes/{did}/close", w.admin(A1), outcome="maybe", reason="closing"), 400)
    problem(await w.post(f"/disputes/{did}/review", w.admin(A1), verdict="justified", reason="nothing to review"), 409,
            "illegal-transition")
    for path in ("/disputes/nope", "/disputes/nope/records"):
        problem(await client.get(path, headers=w.admin(A1)), 404, "dispute-not-found")
    problem(await w.post("/disputes/nope/approve", w.admin(A1), reason="fine"), 404, "dispute-not-found")
    problem(await client.get("/disputes", params={"state": "weird"}, headers=w.admin(A1)), 400)
    # Range outside the record → 416 (after authorisation), not a 500.
    did2 = await w.approved("s1", grantee=A2, record=b)
    resp = await client.get(f"/disputes/{did2}/records/{b}/content", headers={**w.admin(A2), "range": "bytes=99999-"})
    assert resp.status_code == 416 and resp.headers["content-range"] == f"bytes */{len(w.media[b])}"
    assert REASON not in resp.text


async def test_two_deciders_race_one_wins(world: World) -> None:
    w = world
    did = await w.open("s1")
    await w.post(f"/disputes/{did}/request-access", w.admin(A1), admin_ids=[A2], record_ids=[w.s1[0]],
                 reason="need it")
    results = await asyncio.gather(w.post(f"/disputes/{did}/approve", w.admin(A3), reason="approving it"),
                                   w.post(f"/disputes/{did}/reject", w.admin("admin-4"), reason="rejecting it"))
    assert sorted(r.status_code for r in results) == [200, 409]
    detail = (await w.h.client.get(f"/disputes/{did}", headers=w.admin(A3))).json()
    assert [t["action"] for t in detail["transitions"]][-1] in ("approve", "reject")
    assert len(detail["transitions"]) == 3


@pytest.mark.sqlite_pass_only(reason="OpenAPI schema only: the same on every backend")
async def test_openapi_lists_every_dispute_route(world: World) -> None:
    schema = (await world.h.client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path, method in [("/disputes", "post"), ("/disputes", "get"), ("/disputes/mine", "get"),
                         ("/disputes/break-glass", "post"), ("/disputes/{dispute_id}", "get"),
                         ("/disputes/{dispute_id}/records", "get"),
                         ("/disputes/{dispute_id}/records/{record_id}/content", "get"),
                         *((f"/disputes/{{dispute_id}}/{t}", "post")
                           for t in ("request-access", "approve", "reject", "close", "break-glass", "review"))]:
        assert method in paths[path], (path, method)
    components = schema["components"]["schemas"]
    for name in ("DisputeOpen", "AccessRequest", "Decision", "CloseDispute", "BreakGlass", "BreakGlassOpen",
                 "Review", "Dispute", "DisputeSummary", "MemberDispute", "SessionRecord"):
        assert any(k.endswith(name) for k in components), name


def test_window_settings_are_validated(tmp_path: Path) -> None:
    base = {"keyring_path": str(tmp_path / "k.json")}
    assert Settings(**base).dispute_window_hours == 24  # type: ignore[arg-type]
    for bad in ({"dispute_window_hours": 0}, {"dispute_window_hours": 200},
                {"dispute_max_window_hours": 169}, {"dispute_window_hours": 48, "dispute_max_window_hours": 24},
                {"dispute_break_glass_hours": 0}):
        with pytest.raises(ConfigError):
            Settings(**base, **bad)  # type: ignore[arg-type]


@pytest.fixture
async def naming_world(db_url: str, settings_factory: Any, issuer: TestIssuer, s3_server: S3Child,
                       tmp_path: Path, redis: Redis) -> AsyncIterator[World]:
    settings = settings_factory(db_url, **dispute_settings(tmp_path, dispute_notify_accessor_id=True,
                                                           dispute_window_hours=2))
    clock = Clock()
    async for h in open_harness(settings, issuer, s3_server, clock=clock):
        yield await build_world(h, redis, clock)


async def test_accessor_id_when_configured_and_shorter_default_window(naming_world: World) -> None:
    w = naming_world
    a = w.s1[0]
    did = await w.approved("s1", grantee=A2, record=a)
    assert (await w.h.client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2))).status_code == 200
    (ev,) = await w.events("tandem.record", RecordAccessed, 1)
    assert ev.accessor_id == A2 and set(ev.member_ids) == {MENTOR, MENTEE}
    w.clock.advance(hours=2)
    problem(await w.h.client.get(f"/disputes/{did}/records/{a}/content", headers=w.admin(A2)), 403)


async def test_reasons_never_reach_logs_or_error_responses(world: World, capsys: pytest.CaptureFixture[str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    w, client = world, world.h.client
    secret = "SECRET-REASON-d41d8c"
    did = await w.open("s1")
    bad_paths: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        ("/disputes", {"session_id": "s1", "reason": secret + "x" * 4000}, w.mentee),  # too long: 400
        ("/disputes", {"session_id": "s1", "reason": secret, "unknown": secret}, w.mentee),  # 400
        ("/disputes", {"session_id": "nope", "reason": secret}, w.admin(A1)),  # 404
        (f"/disputes/{did}/approve", {"reason": secret}, w.admin(A3)),  # 409: nothing pending
        (f"/disputes/{did}/review", {"verdict": "justified", "reason": secret}, w.admin(A3)),  # 409
    ]
    for path, body, headers in bad_paths:
        resp = await client.post(path, headers=headers, json=body)
        assert resp.status_code in (400, 404, 409) and secret not in resp.text, (path, resp.text)
    good_paths: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (f"/disputes/{did}/request-access", {"admin_ids": [A2], "record_ids": [w.s1[0]], "reason": secret},
         w.admin(A1)),
        (f"/disputes/{did}/approve", {"reason": secret}, w.admin(A1)),  # 403 four-eyes
        (f"/disputes/{did}/reject", {"reason": secret}, w.admin(A3)),
        (f"/disputes/{did}/close", {"outcome": "withdrawn", "reason": secret}, w.admin(A3)),
    ]
    for path, body, headers in good_paths:
        resp = await client.post(path, headers=headers, json=body)
        assert resp.status_code < 500 and secret not in resp.text
    out = capsys.readouterr()
    assert secret not in out.out + out.err + caplog.text
    assert (await client.get(f"/disputes/{did}", headers=w.admin(A2))).text.count(secret) == 3  # admins read them
