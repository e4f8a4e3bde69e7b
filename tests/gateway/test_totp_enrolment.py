"""Authenticator enrolment: a key is pending until confirmed with a code (and no second factor before),
the QR code is the gateway's own SVG, recovery codes are issued once, hashed, spent once, regenerated after
a fresh code; wrong codes count toward the lockout; no key or code ever reaches the logs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa

from services.gateway.accounts.tables import recovery_codes, users
from services.gateway.app import create_app
from shared import db as dbmod
from tests.support.databases import Databases
from tests.support.gateway import PASSWORD, Harness
from tests.support.logs import captured_json_logs

pytestmark = pytest.mark.integration

EMAIL = "ada@example.org"
CODE_SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")
SVG = "{http://www.w3.org/2000/svg}"


async def _accept(h: Harness, email: str = EMAIL, roles: tuple[str, ...] = ("admin",)) -> dict[str, Any]:
    _, token, _ = await h.gw.invitations.create_user("test", email, "Ada", list(roles))
    r = await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _code(secret: str, h: Harness, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(int(h.clock()) + 30 * steps)


async def _login(h: Harness, **second: str) -> Any:
    return await h.client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD, **second})


async def _confirm(h: Harness, code: str, password: str = PASSWORD) -> Any:
    return await h.client.post("/auth/second-factor/confirmation",
                               json={"email": EMAIL, "password": password, "totp_code": code})


async def test_a_key_is_pending_until_confirmed_with_a_code(harness: Harness) -> None:
    h = harness
    accepted = await _accept(h)
    enrolment = accepted["totp_enrolment"]
    secret = enrolment["secret"]
    assert accepted["totp_required"] and accepted["email"] == EMAIL
    assert enrolment["otpauth_uri"] == accepted["totp_uri"]
    assert pyotp.parse_uri(enrolment["otpauth_uri"]).secret == secret
    assert enrolment["confirm_by"] == int(h.clock()) + h.settings.invitation_lifetime_s
    # The QR code: an SVG of paths only; neither the address nor the key appears in it as text.
    root = ET.fromstring(enrolment["qr_svg"])  # noqa: S314 - our own server's answer, in a test
    assert root.tag == f"{SVG}svg" and {child.tag for child in root.iter()} == {f"{SVG}svg", f"{SVG}path"}
    assert EMAIL not in enrolment["qr_svg"] and secret not in enrolment["qr_svg"]

    # Pending: not a second factor. A right code does not sign in; sign-in says to finish enrolment.
    pending = await _login(h, totp_code=_code(secret, h))
    assert pending.status_code == 401 and pending.json()["type"].endswith("mfa-enrolment-pending")
    assert "set-cookie" not in pending.headers

    # The page was closed: the password shows the same pending key again (a wrong one shows nothing).
    wrong_pw = await h.client.post("/auth/second-factor/enrolment", json={"email": EMAIL, "password": "nope" * 4})
    assert wrong_pw.status_code == 401 and "secret" not in wrong_pw.text
    again = await h.client.post("/auth/second-factor/enrolment", json={"email": EMAIL, "password": PASSWORD})
    assert again.status_code == 200 and again.json()["secret"] == secret

    wrong = await _confirm(h, "000000")
    assert wrong.status_code == 400 and wrong.json()["type"].endswith("totp-code-invalid")
    assert (await _confirm(h, _code(secret, h), password="not the password")).status_code == 401
    confirmed = await _confirm(h, _code(secret, h, -1))
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["codes"]
    assert len(codes) == 10 == len(set(codes)) and all(CODE_SHAPE.match(c) for c in codes)
    async with h.gw.users.engine.connect() as conn:
        row = (await conn.execute(sa.select(users.c.totp_status).where(users.c.email == EMAIL))).one()
        stored = [r.code_hash for r in await conn.execute(sa.select(recovery_codes.c.code_hash))]
    assert row.totp_status == "confirmed" and len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & {s.upper() for s in stored}  # hashes only

    # Confirmed: the key is never shown again, nor confirmed twice; sign-in takes its codes.
    assert (await h.client.post("/auth/second-factor/enrolment", json={"email": EMAIL, "password": PASSWORD})
            ).status_code == 409
    assert (await _confirm(h, _code(secret, h, 1))).status_code == 409
    ok = await _login(h, totp_code=_code(secret, h))
    assert ok.status_code == 200 and ok.json()["roles"] == ["admin"]
    me = await h.client.get("/me", headers={"cookie": f"{h.settings.cookie_name}={ok.cookies[h.settings.cookie_name]}"})
    assert me.json()["mfa_enrolled"] is True


async def test_a_recovery_code_signs_in_once(harness: Harness) -> None:
    h = harness
    secret = (await _accept(h))["totp_enrolment"]["secret"]
    codes = (await _confirm(h, _code(secret, h))).json()["codes"]
    first = await _login(h, recovery_code=codes[0])
    assert first.status_code == 200, first.text
    again = await _login(h, recovery_code=codes[0])
    assert again.status_code == 401 and again.json()["type"].endswith("mfa-required")
    # Typed by hand: lower case, spaces for dashes, O for 0 and I or L for 1 all read the same.
    typed = codes[1].lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert (await _login(h, recovery_code=typed)).status_code == 200
    assert (await _login(h, recovery_code="ABCD-EFGH-JKMN-PQRS")).status_code == 401
    cookie = {"cookie": f"{h.settings.cookie_name}={first.cookies[h.settings.cookie_name]}"}
    status = (await h.client.get("/me/second-factor", headers=cookie)).json()
    assert status == {"required": True, "state": "confirmed", "recovery_codes_left": 8}


async def test_recovery_codes_are_regenerated_after_a_fresh_code(harness: Harness) -> None:
    h = harness
    admin = await h.user(EMAIL, ["admin"])
    secret = h.totp[EMAIL]
    url = "/me/recovery-codes"
    refused = await h.client.post(url, headers=admin.headers(), json={"totp_code": "000000"})
    assert refused.status_code == 403 and refused.json()["type"].endswith("reauthentication-failed")
    assert (await h.client.post(url, headers=admin.headers(), json={"totp_code": "12345"})).status_code == 400
    assert (await h.client.post(url, headers=admin.headers(csrf=False), json={"totp_code": _code(secret, h, 1)})
            ).status_code == 403  # a state change needs the CSRF token
    first = await h.client.post(url, headers=admin.headers(), json={"totp_code": _code(secret, h, 1)})
    assert first.status_code == 201, first.text
    replay = await h.client.post(url, headers=admin.headers(), json={"totp_code": _code(secret, h, 1)})
    assert replay.status_code == 403  # each code works once
    h.clock.advance(60)
    second = await h.client.post(url, headers=admin.headers(), json={"totp_code": _code(secret, h, 1)})
    assert second.status_code == 201
    assert not set(first.json()["codes"]) & set(second.json()["codes"])
    assert (await _login(h, recovery_code=first.json()["codes"][0])).status_code == 401  # the old set died
    assert (await _login(h, recovery_code=second.json()["codes"][0])).status_code == 200
    status = await h.client.get("/me/second-factor", headers=admin.headers())
    assert status.json()["recovery_codes_left"] == 9

    mentee = await h.user("mia@example.org", ["mentee"])
    assert (await h.client.get("/me/second-factor", headers=mentee.headers())).json() == {
        "required": False, "state": "none", "recovery_codes_left": 0}
    none = await h.client.post(url, headers=mentee.headers(), json={"totp_code": "123456"})
    assert none.status_code == 409 and none.json()["type"].endswith("no-second-factor")


async def test_wrong_codes_count_toward_the_lockout(harness: Harness) -> None:
    h = harness
    secret = (await _accept(h))["totp_enrolment"]["secret"]
    for _ in range(h.settings.lockout_threshold):
        assert (await _confirm(h, "000000")).status_code == 400
    locked = await _confirm(h, _code(secret, h))
    assert locked.status_code == 429 and "retry-after" in locked.headers
    h.clock.advance(h.settings.lockout_max_s + 1)
    codes = (await _confirm(h, _code(secret, h))).json()["codes"]
    h.clock.advance(h.settings.lockout_max_s + 1)
    for _ in range(h.settings.lockout_threshold):
        assert (await _login(h, recovery_code="ABCD-EFGH-JKMN-PQRS")).status_code == 401
    assert (await _login(h, recovery_code=codes[0])).status_code == 429  # locked: not even tried
    h.clock.advance(h.settings.lockout_max_s + 1)
    assert (await _login(h, recovery_code=codes[0])).status_code == 200  # and not spent by the refusal


async def test_an_unconfirmed_key_expires_and_a_new_link_starts_over(harness: Harness) -> None:
    h = harness
    user_id, token, _ = await h.gw.invitations.create_user("test", EMAIL, "Ada", ["admin"])
    first = (await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})).json()
    h.clock.advance(h.settings.invitation_lifetime_s + 1)
    expired = await _login(h)
    assert expired.status_code == 400 and expired.json()["type"].endswith("mfa-not-enrolled")
    late = await _confirm(h, _code(first["totp_enrolment"]["secret"], h))
    assert late.status_code == 400 and late.json()["type"].endswith("mfa-enrolment-unavailable")
    assert (await h.gw.users.get_user(user_id))["mfa_enrolled"] is False
    # A new link: a new pending key; once confirmed, the recovery codes of an earlier key are gone too.
    token, _ = await h.gw.invitations.reissue("test", user_id)
    renewed = (await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})).json()
    secret = renewed["totp_enrolment"]["secret"]
    assert secret != first["totp_enrolment"]["secret"]
    codes = (await _confirm(h, _code(secret, h))).json()["codes"]
    assert (await h.gw.users.get_user(user_id))["mfa_enrolled"] is True
    token, _ = await h.gw.invitations.reissue("test", user_id)
    await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})
    async with h.gw.users.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(recovery_codes))).scalar_one() == 0
    assert (await _login(h, recovery_code=codes[0])).status_code == 401


async def test_who_may_call_the_new_endpoints(harness: Harness) -> None:
    h = harness
    client_id, client_secret = await h.gw.oauth_clients.create(
        name="svc", redirect_uris=[], post_logout_redirect_uris=[], grant_types=["client_credentials"],
        scope=["api"], confidential=True)
    token = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(client_id, client_secret or ""))).json()["access_token"]
    callers = {role: (await h.user(f"{role}@example.org", [role])).headers()
               for role in ("mentee", "mentor", "admin", "safeguarding", "operator")}
    callers["service"] = {"authorization": f"Bearer {token}"}
    assert (await h.client.get("/me/second-factor")).status_code == 401
    assert (await h.client.post("/me/recovery-codes", json={"totp_code": "123456"})).status_code == 401
    for role, headers in callers.items():
        status = await h.client.get("/me/second-factor", headers=headers)
        regenerate = await h.client.post("/me/recovery-codes", headers=headers, json={"totp_code": "123456"})
        if role == "service":  # a service account is no person: it has no authenticator
            assert status.status_code == regenerate.status_code == 403, (status.text, regenerate.text)
            continue
        assert status.status_code == 200 and status.json()["required"] is (role in ("admin", "safeguarding"))
        assert regenerate.status_code == (403 if role in ("admin", "safeguarding") else 409), regenerate.text
    # The enrolment endpoints need no session: the password is the credential, refused like a sign-in.
    for path, extra in (("/auth/second-factor/enrolment", {}), ("/auth/second-factor/confirmation",
                                                                 {"totp_code": "123456"})):
        r = await h.client.post(path, json={"email": "admin@example.org", "password": "wrong password", **extra})
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        form = await h.client.post(path, data={"email": "admin@example.org", "password": "x"})
        assert form.status_code == 400  # JSON only: a cross-site form cannot post here


async def test_keys_and_codes_never_reach_the_logs(harness: Harness) -> None:
    h = harness
    with captured_json_logs("debug") as out:
        accepted = await _accept(h)
        secret = accepted["totp_enrolment"]["secret"]
        await _confirm(h, "000000")
        await h.client.post("/auth/second-factor/enrolment", json={"email": EMAIL, "password": PASSWORD})
        codes = (await _confirm(h, _code(secret, h))).json()["codes"]
        await _login(h, recovery_code=codes[0])
        await _login(h, recovery_code=codes[0])
        h.clock.advance(31)
        signed_in = await _login(h, totp_code=_code(secret, h))
        cookie = {"cookie": f"{h.settings.cookie_name}={signed_in.cookies[h.settings.cookie_name]}",
                  "x-csrf-token": signed_in.json()["csrf_token"]}
        fresh = await h.client.post("/me/recovery-codes", headers=cookie, json={"totp_code": _code(secret, h, 1)})
        codes += fresh.json()["codes"]
    logged = out.getvalue()
    assert "/auth/second-factor/confirmation" in logged  # the requests were logged, without their bodies
    canaries = [secret, accepted["totp_uri"], *codes, *(c.replace("-", "") for c in codes)]
    for value in canaries:
        assert value not in logged, "a key or recovery code reached the logs"


async def test_keys_stored_before_enrolment_was_confirmed_are_confirmed(database_url: Databases) -> None:
    """Migration 0003: a key stored when keys were active at once stays a second factor."""
    engine = dbmod.create_engine(database_url("totp-migration"))
    migrations = Path(create_app.__code__.co_filename).parent / "migrations"
    try:
        await dbmod.upgrade(engine, migrations, "0002")
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            for user_id, secret in (("a" * 32, b"sealed"), ("b" * 32, None)):
                await conn.execute(sa.text(
                    "INSERT INTO users (id, email, display_name, status, totp_secret, vetted, agreements_current, "
                    "created_at, updated_at) VALUES (:id, :email, 'X', 'active', :secret, false, false, :now, :now)"),
                    {"id": user_id, "email": f"{user_id[0]}@example.org", "secret": secret, "now": now})
        await dbmod.upgrade(engine, migrations)
        async with engine.connect() as conn:
            rows = {r.id: r for r in await conn.execute(sa.select(users.c.id, users.c.totp_status,
                                                                  users.c.totp_issued_at))}
        assert rows["a" * 32].totp_status == "confirmed" and rows["a" * 32].totp_issued_at is not None
        assert rows["b" * 32].totp_status is None and rows["b" * 32].totp_issued_at is None
    finally:
        await engine.dispose()
