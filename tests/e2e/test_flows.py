"""Whole-stack flows through the gateway, with every service as its own process (`tandem run`'s Stack):
events crossing services (user.* → sessions, pairing.* → records and the inbox) and the authorization
wall as a person meets it. No browser here; tests/e2e/test_webapp*.py drive the same flows in Chromium."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
import pytest
import pytest_asyncio

from deploy.local.children import S3_OFFSETS, free_port, free_port_block
from deploy.local.run import Options, Stack, service_env
from tests.support.databases import Databases, service_databases
from tests.support.gateway import previous_step_code

# One stack and one set of accounts for the module: every test shares the module's event loop.
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, module_database_url: Databases) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("stack")
    opts = Options(var_dir=var, redis_url=None, redis_port=free_port(), s3_base_port=free_port_block(S3_OFFSETS),
                   port_base=free_port_block((0, 1, 2, 3)),
                   # Fast password hashing for test accounts only; production keeps the defaults.
                   extra_env={"GATEWAY_ARGON2_TIME_COST": "1", "GATEWAY_ARGON2_MEMORY_KIB": "8192",
                              "GATEWAY_COOKIE_SECURE": "false", "GATEWAY_COOKIE_NAME": "tandem",
                              # One database per service on the run's backend.
                              **service_databases(module_database_url)})
    s = Stack(opts)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@dataclass
class Person:
    client: httpx.AsyncClient
    user_id: str = ""
    csrf: str = ""
    totp_secret: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return {"x-csrf-token": self.csrf}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers(), **kw)

    async def put(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.put(path, json=body, headers=self.headers())


def gateway_cli(stack: Stack, *args: str) -> dict[str, Any]:
    env = {**os.environ, **service_env("gateway", stack.opts, stack.redis_url, stack.s3_endpoint, stack.s3_keys)}
    out = subprocess.run([sys.executable, "-m", "services.gateway", *args], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


async def sign_in(base: str, invitation_url: str, email: str) -> Person:
    token = invitation_url.split("#token=", 1)[1]
    client = httpx.AsyncClient(base_url=base, timeout=30)
    accepted = await client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})
    assert accepted.status_code == 200, accepted.text
    secret = None
    body: dict[str, Any] = {"email": email, "password": PASSWORD}
    if accepted.json()["totp_required"]:
        secret = pyotp.parse_uri(accepted.json()["totp_uri"]).secret
        pending = await client.post("/auth/login", json=body)
        assert pending.status_code == 401 and pending.json()["type"].endswith("mfa-enrolment-pending")
        confirmed = await client.post("/auth/second-factor/confirmation",
                                      json={**body, "totp_code": previous_step_code(secret)})
        assert confirmed.status_code == 200, confirmed.text
        first = await client.post("/auth/login", json=body)
        assert first.status_code == 401 and "mfa" in first.json()["type"], "a second factor is required"
        body["totp_code"] = pyotp.TOTP(secret).now()
    login = await client.post("/auth/login", json=body)
    assert login.status_code == 200, login.text
    info = login.json()
    return Person(client, user_id=info["user_id"], csrf=info["csrf_token"], totp_secret=secret)


async def invite(admin: Person, base: str, email: str, roles: list[str]) -> Person:
    privileged = {"admin", "safeguarding"} & set(roles)
    created = await admin.post("/admin/users", {"email": email, "display_name": email.split("@")[0],
                                                "roles": sorted(set(roles) - privileged)})
    assert created.status_code == 201, created.text
    for role in privileged:  # its own explicit step, with the admin's next authenticator code
        code = pyotp.TOTP(admin.totp_secret or "").at(int(time.time()) + 30)
        granted = await admin.post(f"/admin/users/{created.json()['user_id']}/privileged-roles",
                                   {"role": role, "confirm": True, "totp_code": code})
        assert granted.status_code == 200, granted.text
    return await sign_in(base, created.json()["invitation_url"], email)


async def eventually(check: Any, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def base(stack: Stack) -> str:
    return stack.opts.url("gateway")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def people(stack: Stack, base: str) -> AsyncIterator[dict[str, Person]]:
    boot = gateway_cli(stack, "bootstrap-admin", "--email", "admin@example.org", "--force")
    admin = await sign_in(base, boot["invitation_url"], "admin@example.org")
    for kind in ("code_of_practice", "confidentiality"):
        published = await admin.post("/admin/agreements", {"kind": kind, "title": kind.replace("_", " "),
                                                           "body": "Confidentiality is paramount."})
        assert published.status_code == 201, published.text
    mentor = await invite(admin, base, "mentor@example.org", ["mentor"])
    mentee = await invite(admin, base, "mentee@example.org", ["mentee"])
    outsider = await invite(admin, base, "outsider@example.org", ["mentee"])
    for person in (mentor, mentee, outsider):
        for agreement in (await person.get("/agreements")).json():
            assert (await person.post(f"/me/agreements/{agreement['id']}/accept")).status_code == 200
    for item in ("professional_verification", "references", "interview", "background_check"):
        done = await admin.put(f"/admin/users/{mentor.user_id}/vetting/{item}", {"status": "passed"})
        assert done.status_code == 200, done.text
    yield {"admin": admin, "mentor": mentor, "mentee": mentee, "outsider": outsider}
    for person in (admin, mentor, mentee, outsider):
        await person.client.aclose()


async def test_pairing_notes_and_notices_across_services(people: dict[str, Person]) -> None:
    admin, mentor, mentee, outsider = (people[k] for k in ("admin", "mentor", "mentee", "outsider"))

    # sessions learns vetting and agreements from user.* events: the proposal succeeds once they arrived.
    async def propose() -> httpx.Response | None:
        r = await admin.post("/api/sessions/pairings", {"mentor_id": mentor.user_id, "mentee_id": mentee.user_id})
        return r if r.status_code == 201 else None

    pairing = (await eventually(propose)).json()
    pid = pairing["pairing_id"]
    for member in (mentor, mentee):
        accepted = await member.post(f"/api/sessions/pairings/{pid}/accept")
        assert accepted.status_code == 200, accepted.text
    assert (await outsider.post(f"/api/sessions/pairings/{pid}/accept")).status_code in (403, 404)

    # records learns membership from pairing.activated; then notes work through the proxy.
    async def write() -> httpx.Response | None:
        r = await mentee.post("/api/records/notes", {"pairing_id": pid, "text": "Goals: confidence in triage.",
                                                      "visibility": "pair"})
        return r if r.status_code == 201 else None

    note = (await eventually(write)).json()
    read = await mentor.get(f"/api/records/notes/{note['id']}")
    assert read.status_code == 200 and read.json()["text"] == "Goals: confidence in triage."
    for intruder in (admin, outsider):
        assert (await intruder.get(f"/api/records/notes/{note['id']}")).status_code in (403, 404)

    # A likely NHS number is refused until the author confirms, and the warning does not echo the text.
    risky = {"pairing_id": pid, "text": "Discussed patient 943 476 5919 today.", "visibility": "private"}
    warned = await mentee.post("/api/records/notes", risky)
    assert warned.status_code == 422 and "943 476 5919" not in warned.text
    assert (await mentee.post("/api/records/notes", {**risky, "confirm_identifiers": True})).status_code == 201

    # Both members got an in-app notice about the match, built by the gateway from pairing.* events.
    async def noticed(person: Person) -> bool:
        items = (await person.get("/me/inbox")).json()["items"]
        return any(i["kind"] == "pairing.proposed" for i in items)

    for member in (mentor, mentee):
        await eventually(lambda m=member: noticed(m))
    assert not await noticed(outsider)

    # Either member may end the pairing without giving a reason.
    assert (await mentor.post(f"/api/sessions/pairings/{pid}/end")).status_code == 200


async def test_requests_that_bypass_the_gateway_are_refused(stack: Stack, people: dict[str, Person]) -> None:
    async with httpx.AsyncClient(timeout=10) as raw:
        for name in ("sessions", "records", "reports"):
            r = await raw.get(f"{stack.opts.url(name)}/whoami",
                              headers={"x-user-id": people["admin"].user_id, "x-roles": "admin"})
            assert r.status_code == 401
    # Through the gateway the same call carries a verified identity.
    me = await people["mentor"].get("/api/records/whoami")
    assert me.status_code == 200 and me.json()["sub"] == people["mentor"].user_id


async def test_concern_reaches_safeguarding_only(stack: Stack, base: str, people: dict[str, Person]) -> None:
    officer = await invite(people["admin"], base, "officer@example.org", ["safeguarding"])
    filed = await people["mentee"].post("/api/reports/concerns", {"category": "boundary", "text": "Canary-7781",
                                                                   "anonymous": False, "urgent": True})
    assert filed.status_code == 201, filed.text
    report_id = filed.json()["id"]
    cases = await officer.get("/api/reports/cases")
    assert cases.status_code == 200 and any(c["id"] == report_id for c in cases.json())
    for outsider in (people["admin"], people["mentor"]):
        assert (await outsider.get(f"/api/reports/cases/{report_id}")).status_code in (403, 404)

    async def urgent_notice() -> bool:
        items = (await officer.get("/me/inbox")).json()["items"]
        return any(i["kind"] == "report.urgent" and i["subject_id"] == report_id for i in items)

    await eventually(urgent_notice)
    await officer.client.aclose()


async def test_anyone_can_raise_a_concern_without_an_account(base: str, people: dict[str, Person]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as public:
        filed = await public.post("/api/reports/concerns", json={"category": "safety", "text": "Canary-public-1",
                                                                 "anonymous": True, "urgent": False},
                                  headers={"user-agent": "Identifying/1.0", "tandem-client-hash": "forged"})
        assert filed.status_code == 201, filed.text
        receipt = filed.json()["receipt"]
        assert receipt and filed.json()["id"] is None
        followed = await public.get("/api/reports/receipt", headers={"tandem-receipt": receipt})
        assert followed.status_code == 200, followed.text
        wrong = await public.get("/api/reports/receipt", headers={"tandem-receipt": receipt[:-2] + "xx"})
        assert wrong.status_code == 404
        # Only the filing and follow-up routes are public.
        for path in ("/api/reports/cases", "/api/reports/mine", "/api/records/notes", "/api/sessions/pairings"):
            assert (await public.get(path)).status_code == 401, path
        # Invalid credentials are not quietly turned into an anonymous filing.
        stale = await public.post("/api/reports/concerns", json={"category": "safety", "text": "x", "anonymous": True},
                                  headers={"authorization": "Bearer expired-or-forged"})
        assert stale.status_code == 401
        # A browser whose session ended (a cookie that opens nothing) is simply a member of the public.
        left_open = await public.post("/api/reports/concerns", json={"category": "safety", "text": "Canary-public-2",
                                                                     "anonymous": True, "urgent": False},
                                      headers={"cookie": "__Host-tandem=ended-session-cookie; tandem=ended"})
        assert left_open.status_code == 201 and left_open.json()["receipt"], left_open.text
