"""The pair's mentoring agreement (issue 17, item 3) through the HTTP API on real DB + Redis: the template,
drafting and accepting together, versions, optimistic concurrency, who may do what, shredding, and the
texts never reaching a log, the bus or a plaintext column."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.sessions.adapters.db import outbox
from services.sessions.mentoring_agreement.service import shred_pairing_agreements
from services.sessions.mentoring_agreement.tables import pair_agreements
from shared.db import create_engine
from shared.events import decode_envelope
from shared.events import types as t
from tests.support.sessions import (
    ADMIN,
    MENTEE,
    MENTOR,
    OPERATOR,
    OTHER_MENTEE,
    OTHER_MENTOR,
    ROLES,
    SAFEGUARD,
    Api,
    wait_for,
)

pytestmark = pytest.mark.integration

DEFAULT_KEYS = ["meetings", "scope", "out_of_scope", "contact", "confidentiality", "next_meeting", "conflicts"]
EVERYONE = [MENTOR, MENTEE, OTHER_MENTOR, OTHER_MENTEE, ADMIN, SAFEGUARD, OPERATOR]
PROBLEM = "application/problem+json"


@pytest.fixture
async def engine(api: Api) -> AsyncIterator[AsyncEngine]:
    """The app's database from the test's event loop (the test client runs the app on its own)."""
    eng = create_engine(api.client.app.state.settings.database_url)
    yield eng
    await eng.dispose()


def agreement(pid: str) -> str:
    return f"/pairings/{pid}/agreement"


async def edit(api: Api, pid: str, who: str, sections: dict[str, str], base: int | None, status: int = 200) -> Any:
    r = await api.req("PUT", agreement(pid), who, json={"sections": sections, "base_version": base})
    assert r.status_code == status, r.text
    return r.json()


async def accept(api: Api, pid: str, who: str, version: int | None, status: int = 200) -> Any:
    r = await api.req("POST", f"{agreement(pid)}/accept", who, json={"version": version})
    assert r.status_code == status, r.text
    return r.json()


def texts(body: dict[str, Any]) -> dict[str, str]:
    return {s["key"]: s["text"] for s in body["sections"]}


def is_problem(r: Any, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers


async def audited(redis: Redis) -> list[tuple[str, str, str, str | None]]:
    out = []
    for _id, fields in await redis.xrange("tandem.audit"):
        entry = decode_envelope(fields[b"envelope"]).payload(t.AuditEntry)
        if entry.action.startswith("mentoring_agreement."):
            out.append((entry.action, entry.actor, entry.target, entry.reason))
    return out


async def test_draft_accept_change_and_versions(api: Api, redis: Redis) -> None:
    pid = await api.active_pairing()
    empty = (await api.req("GET", agreement(pid), MENTEE)).json()
    assert empty["version"] is None and empty["in_force_version"] is None and empty["template_version"] == 0
    assert [s["key"] for s in empty["sections"]] == DEFAULT_KEYS and set(texts(empty).values()) == {""}
    assert (await api.req("GET", f"{agreement(pid)}/versions", MENTOR)).json() == []
    await accept(api, pid, MENTOR, 1, status=409)  # nothing to accept yet

    v1 = await edit(api, pid, MENTOR, {"meetings": "Fortnightly, 1 h, video", "scope": "Leadership"}, None)
    assert v1["version"] == 1 and v1["edited_by"] == MENTOR
    assert not v1["mentor_accepted"] and not v1["mentee_accepted"]  # writing it is not accepting it
    assert texts(v1)["scope"] == "Leadership" and texts(v1)["conflicts"] == ""
    assert (await accept(api, pid, MENTOR, 1))["in_force_version"] is None
    await accept(api, pid, MENTOR, 1, status=409)  # once only
    both = await accept(api, pid, MENTEE, 1)
    assert both["mentor_accepted"] and both["mentee_accepted"] and both["in_force_version"] == 1

    # A change needs both again; version 1 stays in force meanwhile.
    v2 = await edit(api, pid, MENTEE, {**texts(v1), "scope": "Leadership and research"}, 1)
    assert v2["version"] == 2 and v2["edited_by"] == MENTEE and v2["in_force_version"] == 1
    assert not v2["mentor_accepted"] and not v2["mentee_accepted"]
    await accept(api, pid, MENTOR, 1, status=409)  # only the latest can be accepted
    assert (await accept(api, pid, MENTEE, 2))["in_force_version"] == 1
    read = (await api.req("GET", agreement(pid), MENTOR)).json()
    assert read["version"] == 2 and read["mentee_accepted"] and not read["mentor_accepted"]
    assert texts(read)["scope"] == "Leadership and research" and read["in_force_version"] == 1
    assert (await accept(api, pid, MENTOR, 2))["in_force_version"] == 2

    versions = (await api.req("GET", f"{agreement(pid)}/versions", MENTEE)).json()
    assert [(v["version"], v["edited_by"], sorted(v["accepted_by"]), v["in_force"]) for v in versions] == [
        (1, MENTOR, sorted([MENTOR, MENTEE]), False), (2, MENTEE, sorted([MENTOR, MENTEE]), True)]
    assert versions[0]["sections"]["scope"] == "Leadership" and set(versions[0]["sections"]) == set(DEFAULT_KEYS)
    assert versions[1]["sections"]["scope"] == "Leadership and research"

    # Ended: the agreement is shredded with its pairing (as its agendas are), and never changed again.
    assert (await api.req("POST", f"/pairings/{pid}/end", MENTOR)).status_code == 200
    assert (await api.req("GET", agreement(pid), MENTEE)).json()["type"].endswith("agreement-shredded")
    assert (await api.req("PUT", agreement(pid), MENTOR, json={"sections": {}, "base_version": 2})).status_code in (
        409, 410)
    await accept(api, pid, MENTEE, 2, status=409)

    expected = [("mentoring_agreement.edit", MENTOR, "agreement-version:1"),
                ("mentoring_agreement.accept", MENTOR, "agreement-version:1"),
                ("mentoring_agreement.accept", MENTEE, "agreement-version:1"),
                ("mentoring_agreement.edit", MENTEE, "agreement-version:2"),
                ("mentoring_agreement.accept", MENTEE, "agreement-version:2"),
                ("mentoring_agreement.accept", MENTOR, "agreement-version:2")]

    async def all_audited() -> bool:
        return len(await audited(redis)) >= len(expected)

    await wait_for(all_audited)
    entries = await audited(redis)
    assert [(a, who, reason) for a, who, _target, reason in entries] == expected
    assert {target for _a, _w, target, _r in entries} == {f"pairing:{pid}"}


async def test_a_stale_base_version_is_refused(api: Api) -> None:
    pid = await api.active_pairing()
    await edit(api, pid, MENTOR, {"scope": "a"}, None)
    stale = await api.req("PUT", agreement(pid), MENTEE, json={"sections": {"scope": "b"}, "base_version": None})
    is_problem(stale, 409)
    assert stale.json()["latest_version"] == 1
    await edit(api, pid, MENTEE, {"scope": "b"}, 1)
    for base in (1, 3):
        r = await api.req("PUT", agreement(pid), MENTOR, json={"sections": {"scope": "c"}, "base_version": base})
        is_problem(r, 409)
        assert r.json()["latest_version"] == 2
    assert texts((await api.req("GET", agreement(pid), MENTOR)).json())["scope"] == "b"
    await accept(api, pid, MENTOR, 1, status=409)
    await accept(api, pid, MENTOR, 3, status=409)


async def test_bad_input_is_problem_json(api: Api) -> None:
    pid = await api.active_pairing()
    await edit(api, pid, MENTOR, {"scope": "ok"}, None)
    secret = "TOO-LONG-" + "y" * 5000
    cases: list[tuple[Any, int]] = [
        ({"sections": {"hobbies": "x"}, "base_version": 1}, 422),  # not in the template
        ({"sections": {"scope": secret}, "base_version": 1}, 400),  # over 5000 characters
        ({"sections": {"Bad Key": "x"}, "base_version": 1}, 400),
        ({"sections": {"scope": 5}, "base_version": 1}, 400),
        ({"sections": {"scope": "x"}}, 400),  # base_version is required (null for the first)
        ({"sections": {"scope": "x"}, "base_version": "one"}, 400),
        ({"sections": {"scope": "x"}, "base_version": 0}, 400),
        ({"sections": {"scope": "x"}, "base_version": 2 ** 40}, 400),
        ({"sections": {"scope": "x"}, "base_version": 1, "extra": 1}, 400),
        ({"sections": {f"k{i}": "x" for i in range(21)}, "base_version": 1}, 400),
        ("not json", 400),
    ]
    for body, status in cases:
        r = await api.req("PUT", agreement(pid), MENTEE, json=body)
        is_problem(r, status)
        assert "y" * 100 not in r.text
    unknown = await api.req("PUT", agreement(pid), MENTEE, json={"sections": {"hobbies": "x"}, "base_version": 1})
    assert unknown.json()["keys"] == ["hobbies"]
    for version, status in (("one", 400), (0, 400), (-1, 400), (2 ** 40, 400), (None, 400), (99, 409)):
        is_problem(await api.req("POST", f"{agreement(pid)}/accept", MENTOR, json={"version": version}), status)
    is_problem(await api.req("POST", f"{agreement(pid)}/accept", MENTOR, json={}), 400)
    is_problem(await api.req("GET", agreement("nope"), MENTOR), 404)
    section = {"key": "scope", "title": "Scope", "guidance": ""}
    bad_templates: list[tuple[Any, int]] = [
        ({"sections": [section, section]}, 422),  # duplicate key
        ({"sections": []}, 400),
        ({"sections": [{**section, "key": f"s{i}"} for i in range(21)]}, 400),
        ({"sections": [{**section, "guidance": "g" * 2001}]}, 400),
        ({"sections": [{**section, "key": "9lives"}]}, 400),
        ({"sections": [{**section, "key": "k" * 33}]}, 400),
        ({"sections": [{**section, "title": ""}]}, 400),
        ({"sections": [{**section, "colour": "red"}]}, 400),
    ]
    for body, status in bad_templates:
        is_problem(await api.req("PUT", "/agreement-template", ADMIN, json=body), status)
    assert (await api.req("GET", "/agreement-template", ADMIN)).json()["version"] == 0


async def test_template_default_and_replacement(api: Api, redis: Redis) -> None:
    default = (await api.req("GET", "/agreement-template", MENTEE)).json()
    assert default["version"] == 0 and default["published_by"] is None
    assert [s["key"] for s in default["sections"]] == DEFAULT_KEYS
    assert all(s["title"] and s["guidance"] for s in default["sections"])
    pid = await api.active_pairing()
    await edit(api, pid, MENTOR, {"scope": "Career", "conflicts": "None known"}, None)

    sections = [{"key": "scope", "title": "Our goals", "guidance": "What you want to achieve."},
                {"key": "wellbeing", "title": "Wellbeing", "guidance": "How you look after yourselves."}]
    r = await api.req("PUT", "/agreement-template", ADMIN, json={"sections": sections})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and r.json()["published_by"] == ADMIN and r.json()["sections"] == sections
    assert (await api.req("GET", "/agreement-template", MENTOR)).json()["sections"] == sections

    # The existing version keeps the template it was written under; a new one is written under the new one.
    kept = (await api.req("GET", agreement(pid), MENTEE)).json()
    assert kept["template_version"] == 0 and kept["current_template_version"] == 1
    assert texts(kept)["conflicts"] == "None known" and len(kept["sections"]) == len(DEFAULT_KEYS)
    r = await api.req("PUT", agreement(pid), MENTEE, json={"sections": {"conflicts": "x"}, "base_version": 1})
    is_problem(r, 422)
    v2 = await edit(api, pid, MENTEE, {"scope": "Career", "wellbeing": "Breaks"}, 1)
    assert v2["template_version"] == 1 and texts(v2) == {"scope": "Career", "wellbeing": "Breaks"}
    assert [s["title"] for s in v2["sections"]] == ["Our goals", "Wellbeing"]
    versions = (await api.req("GET", f"{agreement(pid)}/versions", MENTOR)).json()
    assert [v["template_version"] for v in versions] == [0, 1]

    again = await api.req("PUT", "/agreement-template", ADMIN, json={"sections": sections[:1]})
    assert again.json()["version"] == 2

    async def published() -> bool:
        return sum(a == "mentoring_agreement.template_publish" for a, *_ in await audited(redis)) >= 2

    await wait_for(published)
    targets = [target for a, _w, target, _r in await audited(redis) if a == "mentoring_agreement.template_publish"]
    assert targets == ["agreement-template:1", "agreement-template:2"]


async def test_shredding_destroys_every_version(api: Api, engine: AsyncEngine) -> None:
    pid = await api.active_pairing()
    other = await api.active_pairing(OTHER_MENTOR, OTHER_MENTEE)
    await edit(api, pid, MENTOR, {"scope": "one"}, None)
    await edit(api, pid, MENTEE, {"scope": "two"}, 1)
    await accept(api, pid, MENTOR, 2)
    await edit(api, other, OTHER_MENTEE, {"scope": "theirs"}, None)
    assert (await api.req("POST", f"/pairings/{pid}/end", MENTEE)).status_code == 200
    async with engine.begin() as conn:
        await shred_pairing_agreements(conn, pid)
        await shred_pairing_agreements(conn, pid)  # idempotent
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(pair_agreements).order_by(pair_agreements.c.pairing_id,
                                                                       pair_agreements.c.version))).all()
    mine = [r for r in rows if r.pairing_id == pid]
    assert [r.version for r in mine] == [1, 2]  # the versions' facts stay
    assert all(r.kek_version is None and r.wrapped_dek is None and r.sealed is None for r in mine)
    assert mine[1].mentor_accepted_at is not None and mine[1].edited_by == MENTEE
    for path in (agreement(pid), f"{agreement(pid)}/versions"):
        for who in (MENTOR, MENTEE):
            r = await api.req("GET", path, who)
            is_problem(r, 410)
            assert r.json()["type"].endswith("/agreement-shredded") and r.json()["detail"]
    is_problem(await api.req("GET", agreement(pid), OTHER_MENTOR), 404)  # still no oracle for outsiders
    assert texts((await api.req("GET", agreement(other), OTHER_MENTOR)).json())["scope"] == "theirs"


async def test_shredded_versions_of_an_active_pairing_cannot_be_changed(api: Api, engine: AsyncEngine) -> None:
    pid = await api.active_pairing()
    await edit(api, pid, MENTOR, {"scope": "one"}, None)
    async with engine.begin() as conn:
        await shred_pairing_agreements(conn, pid)
    is_problem(await api.req("PUT", agreement(pid), MENTEE, json={"sections": {}, "base_version": 1}), 410)
    is_problem(await api.req("POST", f"{agreement(pid)}/accept", MENTEE, json={"version": 1}), 410)


async def test_a_version_sealed_for_another_row_does_not_open(api: Api, engine: AsyncEngine) -> None:
    pid = await api.active_pairing()
    await edit(api, pid, MENTOR, {"scope": "FIRST-VERSION-TEXT"}, None)
    await edit(api, pid, MENTOR, {"scope": "second"}, 1)
    cols = ("kek_version", "wrapped_dek", "sealed")
    async with engine.begin() as conn:
        first = (await conn.execute(sa.select(*(pair_agreements.c[c] for c in cols)).where(
            pair_agreements.c.pairing_id == pid, pair_agreements.c.version == 1))).one()
        await conn.execute(sa.update(pair_agreements).where(pair_agreements.c.pairing_id == pid,
                                                            pair_agreements.c.version == 2)
                           .values(dict(zip(cols, first, strict=True))))
    r = await api.req("GET", agreement(pid), MENTOR)
    is_problem(r, 410)
    assert "FIRST-VERSION" not in r.text and r.json()["type"].endswith("/agreement-unreadable")


async def test_texts_never_reach_logs_bus_or_plain_columns(api: Api, engine: AsyncEngine,
                                                           caplog: pytest.LogCaptureFixture,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    canary = "AGREEMENT-CANARY-7f3a9c"
    pid = await api.active_pairing()
    # INFO: aiosqlite logs SQL parameters at DEBUG (shared logging keeps it above DEBUG).
    with caplog.at_level(logging.INFO):
        await edit(api, pid, MENTOR, {"confidentiality": canary, "scope": canary}, None)
        await accept(api, pid, MENTEE, 1)
        await accept(api, pid, MENTOR, 1)
        assert texts((await api.req("GET", agreement(pid), MENTEE)).json())["scope"] == canary
        versions = (await api.req("GET", f"{agreement(pid)}/versions", MENTOR)).json()
        assert versions[0]["sections"]["confidentiality"] == canary
        is_problem(await api.req("PUT", agreement(pid), MENTEE, json={"sections": {"nope": canary},
                                                                      "base_version": 1}), 422)
    out = capsys.readouterr()
    assert canary not in caplog.text + out.out + out.err
    raw = canary.encode()
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(pair_agreements))).all()
        staged = (await conn.execute(sa.select(outbox))).all()
    assert stored and staged
    for row in [*stored, *staged]:
        for value in row:
            data = value if isinstance(value, bytes) else str(value).encode()
            assert raw not in data, row


async def test_authorization_matrix(api: Api) -> None:
    pid = await api.active_pairing()

    async def latest() -> int | None:
        v: int | None = (await api.req("GET", agreement(pid), MENTOR)).json()["version"]
        return v

    async def body(method: str, path: str) -> Any:
        if path == "/agreement-template" and method == "PUT":
            return {"sections": [{"key": "scope", "title": "Scope", "guidance": ""}]}
        if path == agreement(pid) and method == "PUT":
            return {"sections": {"scope": "ours"}, "base_version": await latest()}
        if path.endswith("/accept"):
            return {"version": await latest() or 1}
        return None

    members = {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 404, OTHER_MENTEE: 404, ADMIN: 404,
               SAFEGUARD: 403, OPERATOR: 403}
    expected: dict[tuple[str, str], dict[str, int]] = {
        ("GET", "/agreement-template"): {MENTOR: 200, MENTEE: 200, OTHER_MENTOR: 200, OTHER_MENTEE: 200,
                                         ADMIN: 200, SAFEGUARD: 403, OPERATOR: 403},
        ("PUT", "/agreement-template"): {MENTOR: 403, MENTEE: 403, OTHER_MENTOR: 403, OTHER_MENTEE: 403,
                                         ADMIN: 200, SAFEGUARD: 403, OPERATOR: 403},
        ("PUT", agreement(pid)): members,
        ("GET", agreement(pid)): members,
        ("POST", f"{agreement(pid)}/accept"): members,  # each member accepts the latest version once
        ("GET", f"{agreement(pid)}/versions"): members,
    }
    for (method, path), by_role in expected.items():
        for who in EVERYONE:
            r = await api.req(method, path, who, json=await body(method, path))
            assert r.status_code == by_role[who], (method, path, who, r.status_code, r.text)
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith(PROBLEM)
        r = await api.client.request(method, path, headers=api.issuer.headers("svc", ["service"], "sessions"),
                                     json=await body(method, path))
        assert r.status_code == 403, (method, path, "service", r.text)
        r = await api.client.request(method, path, json=await body(method, path))
        assert r.status_code == 401, (method, path, "anonymous")
    final = (await api.req("GET", agreement(pid), MENTEE)).json()
    assert final["version"] == 2 and final["in_force_version"] == 2  # the members' writes were the only ones
    assert set(ROLES) >= set(EVERYONE)
