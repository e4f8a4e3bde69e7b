"""Admin and safeguarding are granted only as their own explicit step (issue 14, item 4).

The ordinary invitation and role update refuse them (422 problem+json naming the explicit endpoint);
`POST /admin/users/{id}/privileged-roles` grants one role at a time with a confirmation and the granting
admin's current authenticator code, is audited, emits `user.roles_changed` and tells every other admin.
"""

from __future__ import annotations

import json
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.gateway.adapters.db import outbox
from services.gateway.inbox.tables import inbox_items
from shared.events import decode_envelope
from shared.events.types import AuditEntry
from tests.support.gateway import PASSWORD, Harness

pytestmark = pytest.mark.integration

PASSING = "privileged-role-needs-explicit-grant"


async def _events(h: Harness, event_type: str) -> list[dict[str, object]]:
    async with h.gw.users.engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.envelope).order_by(outbox.c.seq))).all()
    return [json.loads(bytes(env.data)) for env in (decode_envelope(raw) for (raw,) in rows)
            if env.type == event_type]


async def _audit(redis: Redis) -> list[AuditEntry]:
    stream: Any = await redis.xrange("tandem.audit")  # redis-py types stream entries loosely
    return [decode_envelope(fields[b"envelope"]).payload(AuditEntry) for _id, fields in stream]


async def _notices(h: Harness, user_id: str) -> list[dict[str, object]]:
    async with h.gw.users.engine.connect() as conn:
        rows = (await conn.execute(sa.select(inbox_items).where(inbox_items.c.user_id == user_id))).mappings().all()
    return [{"kind": r["kind"], "subject_id": r["subject_id"], "facts": json.loads(r["facts"])} for r in rows]


def _fresh_code(h: Harness, email: str) -> str:
    """A code for a later time step than any used so far (each code works once)."""
    h.clock.advance(31)
    return pyotp.TOTP(h.totp[email]).at(int(h.clock()))


def _refused_in_passing(r: object) -> None:
    import httpx

    assert isinstance(r, httpx.Response)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith(PASSING)
    assert "/privileged-roles" in body["detail"]  # says where to go instead


async def test_privileged_role_cannot_be_granted_in_passing(harness: Harness) -> None:
    """The guard of item 4 on the API: neither the invitation nor the role update grants admin or
    safeguarding, whatever else they carry; nothing is created or changed, no event goes out."""
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    for roles in (["mentee", "safeguarding"], ["admin"], ["mentor", "mentee", "safeguarding"], ["safeguarding"]):
        r = await h.client.post("/admin/users", headers=admin.headers(),
                                json={"email": "sam@example.org", "display_name": "Sam", "roles": roles})
        _refused_in_passing(r)
    listed = (await h.client.get("/admin/users", headers=admin.headers())).json()
    assert "sam@example.org" not in {u["email"] for u in listed}

    uid = await h.make_user("max@example.org", ["mentor"])
    created_events = len(await _events(h, "user.roles_changed"))
    for roles in (["mentor", "admin"], ["mentor", "safeguarding"], ["safeguarding"], ["admin", "safeguarding"]):
        r = await h.client.put(f"/admin/users/{uid}/roles", headers=admin.headers(), json={"roles": roles})
        _refused_in_passing(r)
    assert (await h.client.get(f"/admin/users/{uid}", headers=admin.headers())).json()["roles"] == ["mentor"]
    assert len(await _events(h, "user.roles_changed")) == created_events
    state = await h.gw.users.state(uid)
    assert state is not None and state.roles == ("mentor",)

    # Ordinary roles still change as before, and a privileged role already held may stay or be removed:
    # only granting one needs the explicit step.
    ok = await h.client.put(f"/admin/users/{uid}/roles", headers=admin.headers(), json={"roles": ["mentor", "mentee"]})
    assert ok.status_code == 200 and ok.json()["roles"] == ["mentee", "mentor"]
    officer = await h.make_user("olive@example.org", ["safeguarding"])
    keep = await h.client.put(f"/admin/users/{officer}/roles", headers=admin.headers(),
                              json={"roles": ["safeguarding", "mentor"]})
    assert keep.status_code == 200 and keep.json()["roles"] == ["mentor", "safeguarding"]
    drop = await h.client.put(f"/admin/users/{officer}/roles", headers=admin.headers(), json={"roles": ["mentor"]})
    assert drop.status_code == 200 and drop.json()["roles"] == ["mentor"]
    again = await h.client.put(f"/admin/users/{officer}/roles", headers=admin.headers(),
                               json={"roles": ["mentor", "safeguarding"]})
    _refused_in_passing(again)  # once removed, it comes back only through the explicit step


async def test_new_safeguarding_officer_is_onboarded_through_the_explicit_step(harness: Harness,
                                                                              redis: object) -> None:
    assert isinstance(redis, Redis)
    h = harness
    ada = await h.user("ada@example.org", ["admin"])
    bob = await h.user("bob@example.org", ["admin"])
    await h.make_user("carl@example.org", ["admin"])  # an admin who will be told too
    olive = await h.make_user("olive@example.org", ["safeguarding"])  # a fellow officer, told of a new one
    mentor = await h.make_user("max@example.org", ["mentor"])

    # The invitation carries no role; the role follows as its own step, before the link is used.
    created = await h.client.post("/admin/users", headers=ada.headers(),
                                  json={"email": "sam@example.org", "display_name": "Sam", "roles": []})
    assert created.status_code == 201, created.text
    sam = created.json()["user_id"]
    token = created.json()["invitation_url"].split("#token=")[1]
    assert {"user_id": sam, "roles": []} in await _events(h, "user.created")

    url = f"/admin/users/{sam}/privileged-roles"
    grant = {"role": "safeguarding", "confirm": True, "totp_code": _fresh_code(h, "ada@example.org")}
    r = await h.client.post(url, headers=ada.headers(), json=grant)
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": sam, "role": "safeguarding", "roles": ["safeguarding"], "granted": True,
                        "needs_new_link": False}
    assert {"user_id": sam, "roles": ["safeguarding"]} in await _events(h, "user.roles_changed")
    entries = [e for e in await _audit(redis) if e.action == "user.privileged_role_grant"]
    assert [(e.actor, e.target, e.outcome, e.reason) for e in entries] == [
        (ada.user_id, f"user:{sam}", "success", "safeguarding")]

    # Every other admin (and every other safeguarding officer, for this role) is told; the granting admin,
    # the new officer and people without a stake are not.
    expected = {"kind": "user.privileged_role_granted", "subject_id": sam,
                "facts": {"user_id": sam, "role": "safeguarding", "granted_by": ada.user_id}}
    for told in (bob.user_id, h.users["carl@example.org"], olive):
        assert await _notices(h, told) == [expected], told
    for untold in (ada.user_id, sam, mentor):
        assert await _notices(h, untold) == [], untold
    inbox = (await h.client.get("/me/inbox", headers=bob.headers())).json()
    assert [i["kind"] for i in inbox["items"]] == ["user.privileged_role_granted"]

    # Roles at acceptance decide the second factor: the new officer enrols at once.
    accepted = await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})
    assert accepted.status_code == 200 and accepted.json()["totp_required"] is True

    # Granting a role already held changes nothing and tells nobody again.
    same = await h.client.post(url, headers=ada.headers(),
                               json={**grant, "totp_code": _fresh_code(h, "ada@example.org")})
    assert same.status_code == 200 and same.json()["granted"] is False
    assert len(await _notices(h, bob.user_id)) == 1

    # Someone already active gets the role too, but must enrol a second factor through a new link.
    code = _fresh_code(h, "bob@example.org")
    second = await h.client.post(f"/admin/users/{mentor}/privileged-roles", headers=bob.headers(),
                                 json={"role": "admin", "confirm": True, "totp_code": code})
    assert second.status_code == 200, second.text
    assert second.json()["roles"] == ["admin", "mentor"] and second.json()["needs_new_link"] is True
    assert len(await _notices(h, ada.user_id)) == 1 and len(await _notices(h, olive)) == 1


async def test_explicit_grant_refusals(harness: Harness, redis: object) -> None:
    assert isinstance(redis, Redis)
    h = harness
    ada = await h.user("ada@example.org", ["admin"])
    target = await h.make_user("max@example.org", ["mentor"])
    url = f"/admin/users/{target}/privileged-roles"

    def body(**changes: object) -> dict[str, object]:
        return {"role": "admin", "confirm": True, "totp_code": _fresh_code(h, "ada@example.org"), **changes}

    other = "/admin/users/0123456789abcdef0123456789abcdef/privileged-roles"
    cases: list[tuple[str, dict[str, object], int, str]] = [
        (url, {"confirm": False}, 400, "confirmation-required"),
        (url, {"role": "mentor"}, 400, "validation-error"),  # ordinary roles: PUT .../roles
        (url, {"totp_code": None}, 400, "validation-error"),
        (url, {"totp_code": "000000"}, 403, "reauthentication-failed"),
        (url, {"totp_code": "12345"}, 400, "validation-error"),
        (f"/admin/users/{ada.user_id}/privileged-roles", {"role": "safeguarding"}, 403, "self-grant"),
        (other, {}, 404, "not-found"),
    ]
    for path, changes, status, slug in cases:
        payload = {k: v for k, v in body(**changes).items() if v is not None}
        r = await h.client.post(path, headers=ada.headers(), json=payload)
        assert r.status_code == status and r.json()["type"].endswith(slug), (payload, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # A code works once: the one the last request spent (valid, though the user was unknown) is refused.
    used = h.code("ada@example.org")
    replay = await h.client.post(url, headers=ada.headers(), json={"role": "admin", "confirm": True, "totp_code": used})
    assert replay.status_code == 403, replay.text
    # Suspended and erased accounts get no privileges.
    assert (await h.client.post(f"/admin/users/{target}/suspend", headers=ada.headers())).status_code == 200
    suspended = await h.client.post(url, headers=ada.headers(), json=body())
    assert suspended.status_code == 409, suspended.text
    roles = (await h.client.get(f"/admin/users/{target}", headers=ada.headers())).json()["roles"]
    assert roles == ["mentor"]
    assert await _events(h, "user.roles_changed") == []
    denied = [e for e in await _audit(redis) if e.action == "user.privileged_role_grant"]
    assert denied and all(e.outcome in ("denied", "failure") for e in denied)
    assert not any(e.reason and any(ch.isdigit() for ch in e.reason) for e in denied)  # no codes in the ledger

    # Guessing codes locks the step-up (not a way to brute-force the authenticator).
    assert (await h.client.post(f"/admin/users/{target}/reactivate", headers=ada.headers())).status_code == 200
    statuses = []
    for _ in range(h.settings.lockout_threshold + 1):
        r = await h.client.post(url, headers=ada.headers(), json={"role": "admin", "confirm": True,
                                                                  "totp_code": "000000"})
        statuses.append(r.status_code)
    assert statuses[-1] == 429 and "retry-after" in r.headers, statuses
    # While locked even the right code is refused (the lock is checked first); the clock has not moved.
    right = pyotp.TOTP(h.totp["ada@example.org"]).at(int(h.clock()) + 30)
    locked = await h.client.post(url, headers=ada.headers(), json={"role": "admin", "confirm": True,
                                                                   "totp_code": right})
    assert locked.status_code == 429
    assert (await h.client.get(f"/admin/users/{target}", headers=ada.headers())).json()["roles"] == ["mentor"]


async def test_grant_endpoint_authorization(harness: Harness) -> None:
    """Each role (and nobody) on the new endpoint: only admins, and only with a valid step-up."""
    h = harness
    target = await h.make_user("target@example.org", ["mentor"])
    headers: dict[str, dict[str, str]] = {}
    for role in ("mentee", "mentor", "admin", "safeguarding", "operator"):
        headers[role] = (await h.user(f"{role}@example.org", [role])).headers()
    client_id, secret = await h.gw.oauth_clients.create(name="svc", redirect_uris=[], post_logout_redirect_uris=[],
                                                        grant_types=["client_credentials"], scope=["api"],
                                                        confidential=True)
    token = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(client_id, secret or ""))).json()["access_token"]
    headers["service"] = {"authorization": f"Bearer {token}"}
    url = f"/admin/users/{target}/privileged-roles"
    anonymous = await h.client.post(url, json={"role": "admin", "confirm": True, "totp_code": "123456"})
    assert anonymous.status_code == 401
    for role, hdrs in headers.items():
        code = _fresh_code(h, f"{role}@example.org") if role in ("admin", "safeguarding") else "123456"
        r = await h.client.post(url, headers=hdrs, json={"role": "safeguarding", "confirm": True, "totp_code": code})
        if role == "admin":
            assert r.status_code == 200 and r.json()["granted"] is True, r.text
        else:
            assert r.status_code == 403 and r.json()["type"].endswith("forbidden"), (role, r.text)
    assert (await h.client.get(f"/admin/users/{target}", headers=headers["admin"])).json()["roles"] == [
        "mentor", "safeguarding"]


async def test_openapi_states_the_grant(harness: Harness) -> None:
    schema = harness.app.openapi_schema.to_schema()
    op = schema["paths"]["/admin/users/{user_id}/privileged-roles"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    props = schema["components"]["schemas"][ref]["properties"]
    assert set(props) == {"role", "confirm", "totp_code"}
    assert sorted(props["role"]["enum"]) == ["admin", "safeguarding"]
    assert "200" in op["responses"]
    out = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][out]["properties"]) == {
        "user_id", "role", "roles", "granted", "needs_new_link"}


async def test_an_upstream_role_claim_granting_admin_is_never_silent(harness: Harness, redis: object) -> None:
    """Federation maps roles as the operator configured; a privileged role it adds is told and audited."""
    assert isinstance(redis, Redis)
    h = harness
    ada = await h.user("ada@example.org", ["admin"])
    olive = await h.make_user("olive@example.org", ["safeguarding"])
    mentor = await h.make_user("max@example.org", ["mentor"])
    await h.gw.signin.federated_user("max@example.org", "Max", ["mentor", "safeguarding"], provision=False,
                                     strong_auth=True)
    new = await h.gw.signin.federated_user("new@example.org", "New", ["admin"], provision=True, strong_auth=True)
    told = {"kind": "user.privileged_role_granted", "subject_id": mentor,
            "facts": {"user_id": mentor, "role": "safeguarding", "granted_by": "federation"}}
    assert await _notices(h, olive) == [told]
    assert told in await _notices(h, ada.user_id) and len(await _notices(h, ada.user_id)) == 2
    assert await _notices(h, new.user_id) == []  # not told of themselves; not yet an admin at Max's grant
    grants = [(e.actor, e.target, e.reason) for e in await _audit(redis) if e.action == "user.privileged_role_grant"]
    assert grants == [("federation", f"user:{mentor}", "safeguarding"), ("federation", f"user:{new.user_id}", "admin")]
