"""Accounts: invitations, sign-in with lockout and TOTP, roles, suspension, vetting, agreements."""

from __future__ import annotations

import json

import pyotp
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.gateway.accounts.credentials import token_hash
from services.gateway.adapters.db import outbox
from shared.events import decode_envelope
from tests.support.gateway import PASSWORD, Harness

pytestmark = pytest.mark.integration


async def _events(h: Harness, event_type: str) -> list[dict[str, object]]:
    async with h.gw.users.engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.envelope).order_by(outbox.c.seq))).all()
    out = []
    for (raw,) in rows:
        env = decode_envelope(raw)
        if env.type == event_type:
            out.append(json.loads(bytes(env.data)))
    return out


async def test_invitation_sets_password_once(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    r = await h.client.post("/admin/users", headers=admin.headers(),
                            json={"email": "Mentee@Example.org", "display_name": "Ada", "roles": ["mentee"]})
    assert r.status_code == 201, r.text
    link = r.json()["invitation_url"]
    assert "#token=" in link  # a fragment: never sent to servers or in Referer
    token = link.split("#token=")[1]
    weak = await h.client.post("/auth/invitations/accept", json={"token": token, "password": "short"})
    assert weak.status_code == 400 and weak.json()["type"].endswith("weak-password")
    ok = await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["totp_required"] is False
    again = await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD + "x"})
    assert again.status_code == 400 and again.json()["type"].endswith("invitation-invalid")
    assert (await h.client.post("/auth/login", json={"email": "mentee@example.org", "password": PASSWORD})
            ).status_code == 200
    created = await _events(h, "user.created")
    assert {"user_id": r.json()["user_id"], "roles": ["mentee"]} in created
    dup = await h.client.post("/admin/users", headers=admin.headers(),
                              json={"email": "mentee@example.org", "display_name": "X", "roles": ["mentee"]})
    assert dup.status_code == 409


async def test_expired_invitation_refused(harness: Harness) -> None:
    h = harness
    _, token, _ = await h.gw.invitations.create_user("test", "late@example.org", "Late", ["mentor"])
    h.clock.advance(h.settings.invitation_lifetime_s + 1)
    r = await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})
    assert r.status_code == 400


async def test_login_failures_lock_with_backoff(harness: Harness) -> None:
    h = harness
    await h.make_user("m@example.org", ["mentee"])
    for _ in range(h.settings.lockout_threshold):
        r = await h.client.post("/auth/login", json={"email": "m@example.org", "password": "wrong password!"})
        assert r.status_code == 401 and r.json()["type"].endswith("invalid-credentials")
    locked = await h.client.post("/auth/login", json={"email": "m@example.org", "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= h.settings.lockout_base_s - 1
    h.clock.advance(h.settings.lockout_base_s + 1)
    assert (await h.client.post("/auth/login", json={"email": "m@example.org", "password": PASSWORD})
            ).status_code == 200
    # Unknown accounts answer exactly like wrong passwords.
    unknown = await h.client.post("/auth/login", json={"email": "nobody@example.org", "password": PASSWORD})
    assert unknown.status_code == 401 and unknown.json()["type"].endswith("invalid-credentials")



async def test_failed_sign_ins_are_audited_without_the_address(harness: Harness, redis: Redis) -> None:
    """An attempt that names no account is audited as `login:unknown`: neither the address nor an unkeyed
    hash of it (which anyone holding a list of candidate addresses could match)."""
    h = harness
    user_id = await h.make_user("m@example.org", ["mentee"])
    for email in ("nobody@example.org", "m@example.org"):
        for _ in range(h.settings.lockout_threshold + 1):  # the last one is refused as locked
            await h.client.post("/auth/login", json={"email": email, "password": "wrong password!"})
    entries = [decode_envelope(fields[b"envelope"]).payload() for _id, fields in await redis.xrange("tandem.audit")]
    logins = [(e.actor, e.outcome, e.reason) for e in entries if e.action == "auth.login"]
    assert ("login:unknown", "failure", "bad-credentials") in logins and \
        ("login:unknown", "denied", "locked") in logins
    assert {actor for actor, _, _ in logins} <= {"login:unknown", user_id}
    dump = str(await redis.xrange("tandem.audit"))
    for email in ("nobody@example.org", "m@example.org"):
        assert email not in dump and token_hash(f"login:{email}")[:16] not in dump


@pytest.mark.parametrize("role", ["admin", "safeguarding"])
async def test_admin_and_safeguarding_need_totp(harness: Harness, role: str) -> None:
    h = harness
    email = f"{role}@example.org"
    await h.make_user(email, [role, "mentor"])
    assert email in h.totp  # enrolment key handed out with the password (confirmed with the previous step's code)
    no_code = await h.client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert no_code.status_code == 401 and no_code.json()["type"].endswith("mfa-required")
    assert "set-cookie" not in no_code.headers
    wrong = await h.client.post("/auth/login", json={"email": email, "password": PASSWORD, "totp_code": "000000"})
    assert wrong.status_code == 401
    code = pyotp.TOTP(h.totp[email]).at(int(h.clock()))
    ok = await h.client.post("/auth/login", json={"email": email, "password": PASSWORD, "totp_code": code})
    assert ok.status_code == 200 and role in ok.json()["roles"]
    replay = await h.client.post("/auth/login", json={"email": email, "password": PASSWORD, "totp_code": code})
    assert replay.status_code == 401  # a code works once


async def test_role_gaining_mfa_needs_enrolment(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    uid = await h.make_user("m@example.org", ["mentor"])
    h.clock.advance(31)  # a code works once: the one used to sign in is spent
    r = await h.client.post(f"/admin/users/{uid}/privileged-roles", headers=admin.headers(),
                            json={"role": "admin", "confirm": True, "totp_code": h.code("admin@example.org")})
    assert r.status_code == 200 and r.json()["roles"] == ["admin", "mentor"] and r.json()["needs_new_link"]
    assert {"user_id": uid, "roles": ["admin", "mentor"]} in await _events(h, "user.roles_changed")
    refused = await h.client.post("/auth/login", json={"email": "m@example.org", "password": PASSWORD})
    assert refused.status_code == 400 and refused.json()["type"].endswith("mfa-not-enrolled")
    bad = await h.client.put(f"/admin/users/{uid}/roles", headers=admin.headers(), json={"roles": ["root"]})
    assert bad.status_code == 400


async def test_suspension_ends_browser_sessions_at_once(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    mentee = await h.user("m@example.org", ["mentee"])
    second = await h.login("m@example.org")
    assert (await h.client.get("/me", headers=mentee.headers())).status_code == 200
    r = await h.client.post(f"/admin/users/{mentee.user_id}/suspend", headers=admin.headers())
    assert r.status_code == 200
    for browser in (mentee, second):
        assert (await h.client.get("/me", headers=browser.headers())).status_code == 401
    assert (await h.client.post("/auth/login", json={"email": "m@example.org", "password": PASSWORD})
            ).status_code == 401
    assert {"user_id": mentee.user_id} in await _events(h, "user.suspended")
    r = await h.client.post(f"/admin/users/{mentee.user_id}/reactivate", headers=admin.headers())
    assert r.status_code == 200
    assert (await h.client.get("/me", headers=mentee.headers())).status_code == 401  # old sessions stay dead
    assert (await h.client.post("/auth/login", json={"email": "m@example.org", "password": PASSWORD})
            ).status_code == 200


async def test_mentor_vetting_checklist(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    mentor = await h.make_user("mentor@example.org", ["mentor"])
    items = ["professional_verification", "references", "interview", "background_check"]
    for i, item in enumerate(items):
        r = await h.client.put(f"/admin/users/{mentor}/vetting/{item}", headers=admin.headers(),
                               json={"status": "passed"})
        assert r.status_code == 200, r.text
        assert r.json()["vetted"] is (i == len(items) - 1)
    user = (await h.client.get(f"/admin/users/{mentor}", headers=admin.headers())).json()
    assert user["vetted"] is True
    assert all(c["recorded_by"] == admin.user_id and c["recorded_at"] for c in user["vetting"])
    r = await h.client.put(f"/admin/users/{mentor}/vetting/interview", headers=admin.headers(),
                           json={"status": "failed"})
    assert r.json()["vetted"] is False
    assert await _events(h, "user.vetting_changed") == [{"user_id": mentor, "vetted": True},
                                                        {"user_id": mentor, "vetted": False}]
    assert (await h.client.put(f"/admin/users/{mentor}/vetting/horoscope", headers=admin.headers(),
                               json={"status": "passed"})).status_code == 404
    assert (await h.client.put(f"/admin/users/{mentor}/vetting/interview", headers=admin.headers(),
                               json={"status": "maybe"})).status_code == 400
    mentee = await h.make_user("mentee@example.org", ["mentee"])
    assert (await h.client.put(f"/admin/users/{mentee}/vetting/interview", headers=admin.headers(),
                               json={"status": "passed"})).status_code == 409


async def test_agreements_versioned_and_accepted(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    mentee = await h.user("m@example.org", ["mentee"])
    ids = {}
    for kind in ("code_of_practice", "confidentiality"):
        r = await h.client.post("/admin/agreements", headers=admin.headers(),
                                json={"kind": kind, "title": kind, "body": "Respect one another's privacy."})
        assert r.status_code == 201 and r.json()["version"] == 1
        ids[kind] = r.json()["id"]
    current = (await h.client.get("/agreements", headers=mentee.headers())).json()
    assert {a["id"] for a in current} == set(ids.values()) and all(a["accepted_at"] is None for a in current)
    r1 = await h.client.post(f"/me/agreements/{ids['code_of_practice']}/accept", headers=mentee.headers())
    assert r1.status_code == 200 and r1.json()["accepted_current"] is False
    r2 = await h.client.post(f"/me/agreements/{ids['confidentiality']}/accept", headers=mentee.headers())
    assert r2.json()["accepted_current"] is True
    assert (await h.client.get("/me", headers=mentee.headers())).json()["agreements_current"] is True
    v2 = await h.client.post("/admin/agreements", headers=admin.headers(),
                             json={"kind": "confidentiality", "title": "v2", "body": "Updated."})
    assert v2.json()["version"] == 2
    assert (await h.client.get("/me", headers=mentee.headers())).json()["agreements_current"] is False
    stale = await h.client.post(f"/me/agreements/{ids['confidentiality']}/accept", headers=mentee.headers())
    assert stale.status_code == 409
    events = [e for e in await _events(h, "user.agreements_changed") if e["user_id"] == mentee.user_id]
    # created before any agreement existed (qualified), then v1 published, accepted, v2 published
    assert [e["accepted_current"] for e in events] == [False, True, False]
    assert (await h.client.post("/admin/agreements", headers=admin.headers(),
                                json={"kind": "horoscope", "title": "x", "body": "y"})).status_code == 400


async def test_csrf_required_for_cookie_writes(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    body = {"email": "x@example.org", "display_name": "X", "roles": ["mentee"]}
    missing = await h.client.post("/admin/users", headers=admin.headers(csrf=False), json=body)
    assert missing.status_code == 403 and missing.json()["type"].endswith("csrf")
    wrong = await h.client.post("/admin/users", headers={**admin.headers(csrf=False), "x-csrf-token": "nope"},
                                json=body)
    assert wrong.status_code == 403
    assert (await h.client.get("/admin/users", headers=admin.headers(csrf=False))).status_code == 200


async def test_cookie_attributes_and_session_timeouts(harness: Harness) -> None:
    h = harness
    await h.make_user("m@example.org", ["mentee"])
    r = await h.client.post("/auth/login", json={"email": "m@example.org", "password": PASSWORD})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-tandem=")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    browser = await h.login("m@example.org")
    h.clock.advance(h.settings.session_idle_s - 10)
    assert (await h.client.get("/auth/session", headers=browser.headers())).status_code == 200
    h.clock.advance(h.settings.session_idle_s - 10)  # activity keeps it alive...
    assert (await h.client.get("/auth/session", headers=browser.headers())).status_code == 200
    h.clock.advance(h.settings.session_idle_s + 1)  # ...inactivity does not
    assert (await h.client.get("/auth/session", headers=browser.headers())).status_code == 401
    browser = await h.login("m@example.org")
    for _ in range(h.settings.session_absolute_s // (h.settings.session_idle_s - 60) + 1):
        h.clock.advance(h.settings.session_idle_s - 60)
        await h.client.get("/auth/session", headers=browser.headers())
    assert (await h.client.get("/auth/session", headers=browser.headers())).status_code == 401  # absolute


async def test_logout_and_logout_everywhere(harness: Harness) -> None:
    h = harness
    await h.make_user("m@example.org", ["mentee"])
    a, b, c = [await h.login("m@example.org") for _ in range(3)]
    out = await h.client.post("/auth/logout", headers=a.headers())
    assert out.status_code == 200 and "max-age=0" in out.headers["set-cookie"].lower()
    assert (await h.client.get("/me", headers=a.headers())).status_code == 401
    assert (await h.client.get("/me", headers=b.headers())).status_code == 200
    assert (await h.client.post("/auth/logout-everywhere", headers=b.headers())).status_code == 200
    for browser in (b, c):
        assert (await h.client.get("/me", headers=browser.headers())).status_code == 401


async def test_login_needs_json(harness: Harness) -> None:
    h = harness
    r = await h.client.post("/auth/login", data={"email": "a@b.c", "password": "x"})
    assert r.status_code == 400


async def test_security_events_are_audited(harness: Harness, redis: object) -> None:
    from redis.asyncio import Redis

    from shared.events import decode_envelope
    from shared.events.types import AuditEntry

    assert isinstance(redis, Redis)
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    uid = await h.make_user("m@example.org", ["mentor"])
    await h.client.post("/auth/login", json={"email": "m@example.org", "password": "wrong password 1"})
    await h.client.post(f"/admin/users/{uid}/suspend", headers=admin.headers())
    await h.client.put(f"/admin/users/{uid}/vetting/interview", headers=admin.headers(), json={"status": "passed"})
    entries = []
    for _id, fields in await redis.xrange("tandem.audit"):
        entries.append(decode_envelope(fields[b"envelope"]).payload(AuditEntry))
    actions = {(e.action, e.outcome) for e in entries}
    for expected in [("auth.login", "success"), ("auth.mfa", "success"), ("auth.login", "failure"),
                     ("user.suspend", "success"), ("user.vetting_change", "success"),
                     ("user.invitation_accept", "success"), ("user.create", "success")]:
        assert expected in actions, expected
    # Targets are ids, never e-mail addresses or passwords.
    assert not any("@" in e.target or "wrong password" in (e.reason or "") for e in entries)


async def test_erasure_forgets_the_person_and_tells_the_services(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    mentee = await h.user("m@example.org", ["mentee"])
    r = await h.client.post(f"/admin/users/{mentee.user_id}/erasure", headers=admin.headers())
    assert r.status_code == 202
    request_id = r.json()["request_id"]
    assert {"user_id": mentee.user_id, "request_id": request_id} in await _events(h, "user.erasure_requested")
    assert {"user_id": mentee.user_id} in await _events(h, "user.suspended")
    assert (await h.client.get("/me", headers=mentee.headers())).status_code == 401
    assert (await h.client.post("/auth/login", json={"email": "m@example.org", "password": PASSWORD})
            ).status_code == 401
    user = (await h.client.get(f"/admin/users/{mentee.user_id}", headers=admin.headers())).json()
    assert user["status"] == "erased" and "m@example.org" not in str(user) and user["display_name"] == "Erased user"
    for path in ("erasure", "suspend", "invitation", "reactivate"):
        again = await h.client.post(f"/admin/users/{mentee.user_id}/{path}", headers=admin.headers())
        assert again.status_code == 409, (path, again.text)
    own = await h.client.post(f"/admin/users/{admin.user_id}/erasure", headers=admin.headers())
    assert own.status_code == 403
    # The address is free again: the person may be invited afresh later.
    assert (await h.client.post("/admin/users", headers=admin.headers(),
                                json={"email": "m@example.org", "display_name": "M", "roles": ["mentee"]})
            ).status_code == 201
