"""The call page between two real Chromium pages (fake camera), through the gateway's WebSocket relay:
connect, mute/camera toggles, both consent, the server's recording-state frames drive the indicator,
stop, and the member plays the stored recording back in the browser with seeking.

WebRTC needs a private network namespace (RUNTIME.md): outside one, the single wrapper test re-runs
this module under `unshare -n` and checks it passed; inside, the real tests run. Setup (accounts,
agreements, vetting, pairing, session) goes through the HTTP API to keep the browser part short; the
pages themselves are covered in test_webapp.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.local.run import service_env, wait_ready
from tests.support.webapp import (
    ROOT,
    Api,
    Browser,
    RunningStack,
    accept_invitation,
    axe_source,
    axe_violations,
    can_unshare,
    chromium_missing,
    eventually,
    in_private_netns,
    playing,
    run_isolated,
    shot,
    signed_in_page,
)
from tests.support.webapp_world import active_pairing, vet

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")]
inside = pytest.mark.skipif(not in_private_netns(), reason="runs inside the private network namespace only")


@pytest.mark.skipif(in_private_netns(), reason="this is the wrapper")
@pytest.mark.skipif(not can_unshare(), reason="needs root, unshare and ip for a private network namespace")
def test_call_page_in_a_private_network_namespace() -> None:
    axe_source()  # fetched (npm) out here: the namespace has no network
    done = run_isolated(Path(__file__))
    tail = (done.stdout + done.stderr)[-6000:]
    assert done.returncode == 0, tail
    assert "2 passed" in done.stdout, tail  # the tests themselves ran (the wrapper skips itself inside)


# -- inside the namespace ---------------------------------------------------------------------------------


def wire_recorder(stack: RunningStack) -> None:
    """Give sessions a service account so the recorder can stream into records through the gateway.
    `tandem run` does not wire this yet: the test restarts sessions with the sink settings."""
    out = subprocess.run([sys.executable, "-m", "services.gateway", "create-client", "--name", "recorder",
                          "--grant", "client_credentials", "--scope", "api"], env=stack.gateway_env(), cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=60)
    client = json.loads(out.stdout.strip().splitlines()[-1])
    s, opts = stack.stack, stack.opts
    old = s.procs["sessions"]
    old.terminate()
    old.wait(15)
    env = {**os.environ, **service_env("sessions", opts, s.redis_url, s.s3_endpoint, s.s3_keys),
           "SESSIONS_RECORDING_SINK_URL": f"{stack.url}/api/records/internal/recordings",
           "SESSIONS_RECORDING_TOKEN_URL": f"{stack.url}/oauth/token",
           "SESSIONS_RECORDING_CLIENT_ID": client["client_id"],
           "SESSIONS_RECORDING_CLIENT_SECRET": client["client_secret"]}
    with (s.logs / "sessions.log").open("ab") as log:
        s.procs["sessions"] = subprocess.Popen([sys.executable, "-m", "services.sessions"], env=env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)
    wait_ready(f"{opts.url('sessions')}/readyz", s.procs["sessions"], 60, "sessions", s.logs / "sessions.log")


@pytest.fixture(scope="module")
def session_id(stack: RunningStack) -> Iterator[str]:
    try:
        yield set_up(stack)
    finally:
        while Api.opened:
            Api.opened.pop().close()


STATE: dict[str, Any] = {}


def set_up(stack: RunningStack) -> str:
    base = stack.url
    admin_secret = accept_invitation(base, stack.bootstrap_admin("ada@example.org", "Ada Admin"))
    admin = Api(base, "ada@example.org", admin_secret)
    STATE["ada"] = (admin_secret, int(time.time()) // 30)  # this TOTP step is spent
    # A second admin comes from the operator's CLI: admins never grant admin in passing.
    STATE["bob"] = (accept_invitation(base, stack.bootstrap_admin("bob@example.org", "Bob Admin", force=True)), None)
    agreement = admin.call("POST", "/admin/agreements", {"kind": "code_of_practice", "title": "Code of practice",
                                                         "body": "Be kind."})
    ids = {}
    for email, name, role in (("mia@example.org", "Mia Mentee", "mentee"), ("max@example.org", "Max Mentor",
                                                                            "mentor")):
        inv = admin.call("POST", "/admin/users", {"email": email, "display_name": name, "roles": [role]})
        ids[role] = inv["user_id"]
        accept_invitation(base, inv["invitation_url"])
        Api(base, email).call("POST", f"/me/agreements/{agreement['id']}/accept")
    vet(admin, ids["mentor"])
    wire_recorder(stack)
    mentee, mentor = Api(base, "mia@example.org"), Api(base, "max@example.org")
    pairing_id = active_pairing(admin, ids["mentor"], ids["mentee"], (mentee, mentor))
    start = datetime.now(UTC) + timedelta(minutes=1)
    session = mentee.call("POST", f"/api/sessions/pairings/{pairing_id}/sessions",
                          {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()})
    return str(session["session_id"])


def phase(page: Any) -> str:
    return str(page.get_attribute("#recording-indicator", "data-phase") or "")


@inside
def test_two_members_call_consent_record_and_play_back(stack: RunningStack, session_id: str,
                                                       browser: Browser) -> None:
    mia = signed_in_page(browser, stack, "mia@example.org")
    max_ = signed_in_page(browser, stack, "max@example.org")
    for page in (mia, max_):
        page.goto(f"/#/call/{session_id}")
        page.locator("#recording-indicator").wait_for()
    for page in (mia, max_):
        page.locator("#call-status").get_by_text("Connected with").wait_for(timeout=30_000)
        eventually(lambda p=page: playing(p, "#remote-video"), "remote video frames")
        assert phase(page) == "idle"
    shot(mia, "30-call-connected")
    bad = axe_violations(mia, axe_source())
    assert not bad, bad

    # Mute and camera toggles are real buttons with a pressed state.
    mia.get_by_role("button", name="Mute microphone").click()
    assert mia.get_attribute("#toggle-mic", "aria-pressed") == "true"
    mia.get_by_role("button", name="Unmute microphone").click()

    # One consent alone never records.
    mia.get_by_role("button", name="Ask to record").click()
    eventually(lambda: phase(max_) == "requested", "the request on the other page")
    mia.get_by_role("button", name="I consent to recording").click()
    max_.get_by_text("Recording requested by Mia Mentee").wait_for()
    time.sleep(0.5)
    assert phase(mia) == "requested" and phase(max_) == "requested"
    shot(max_, "31-call-recording-requested")
    max_.get_by_role("button", name="I consent to recording").click()
    for page in (mia, max_):
        eventually(lambda p=page: phase(p) == "recording", "the recording state on both pages")
        page.locator("#recording-text").get_by_text("RECORDING — both of you consented").wait_for()
    shot(mia, "32-call-recording")
    time.sleep(3)  # a few seconds of consented media
    max_.get_by_role("button", name="Stop recording").click()
    for page in (mia, max_):
        eventually(lambda p=page: phase(p) == "idle", "recording stopped on both pages")
    mia.get_by_role("button", name="Leave the call").click()
    mia.get_by_role("heading", name="You left the call").wait_for()
    max_.locator("#call-status").get_by_text("left the call").wait_for()

    # The member finds the recording in the pairing and plays it, with seeking.
    pairing_link = mia.get_by_role("link", name="Back to the pairing")
    for _ in range(80):
        pairing_link.click()
        mia.locator("h1").get_by_text("Pairing with").wait_for()
        # Listed, with its length (records adds it just after answering the recorder).
        listed = mia.locator("#recording-list")
        if listed.count() and re.search(r"\d s · ", listed.inner_text()):
            break
        time.sleep(0.5)
        mia.goto("/#/")
        mia.locator("#pairing-list a").first.wait_for()
        pairing_link = mia.locator("#pairing-list a").first
    mia.locator("#recording-list a").first.click()
    mia.locator("#playback").wait_for()
    eventually(lambda: mia.evaluate("() => document.querySelector('#playback').readyState >= 1"),
               "the recording's metadata")
    # The page says how long the recording is; the player knows it from the file (Duration and Cues).
    assert re.search(r"\b[2-9] s · ", mia.locator("main").inner_text()), mia.locator("main").inner_text()
    length = mia.evaluate("() => document.querySelector('#playback').duration")
    assert mia.evaluate("() => Number.isFinite(document.querySelector('#playback').duration)"), length
    assert 2.0 <= length <= 60.0, length
    mia.evaluate("() => { const v = document.querySelector('#playback'); v.muted = true; return v.play(); }")
    eventually(lambda: mia.evaluate("() => document.querySelector('#playback').currentTime > 0.3"), "playback")
    mia.evaluate("() => { document.querySelector('#playback').currentTime = 1.0; }")
    eventually(lambda: mia.evaluate("() => !document.querySelector('#playback').seeking"), "the seek")
    # A seek straight to near the end, before that part was ever loaded, lands there.
    mia.evaluate("() => { const v = document.querySelector('#playback'); v.pause(); "
                 "v.currentTime = v.duration - 0.5; }")
    eventually(lambda: mia.evaluate("() => !document.querySelector('#playback').seeking"), "the seek to the end")
    assert mia.evaluate("() => document.querySelector('#playback').currentTime") >= length - 1.0
    assert mia.evaluate("() => document.querySelector('#playback').error") is None
    shot(mia, "33-recording-playback")
    for page in (mia, max_):
        assert not page.js_errors, page.js_errors
    STATE["mia"] = mia


@inside
def test_dispute_four_eyes_playback_and_member_notice(stack: RunningStack, session_id: str,
                                                      browser: Browser) -> None:
    mia = STATE["mia"]
    # An admin opens the dispute from the pairing's page (a member's own dispute form: test_webapp.py).
    ada = signed_in_page(browser, stack, "ada@example.org", STATE["ada"])
    ada.goto("/#/admin/pairings")
    ada.locator("#pairings").get_by_role("link", name="Open the pairing of Max Mentor and Mia Mentee").click()
    ada.get_by_label("Why is a dispute needed?").fill("We need to check the advice given in this session.")
    ada.get_by_role("button", name="Open a dispute as admin").click()
    ada.get_by_role("button", name="Request access").wait_for()
    eventually(lambda: ada.reload() or ada.locator("#dispute-records li").first.wait_for() or True, "the records")
    ada.locator("#dispute-records").get_by_text("Legal hold").first.wait_for()
    # Nothing is readable before a second admin approves.
    assert ada.get_by_role("button", name="Play (this is logged and the pair is told)").count() == 0
    ada.get_by_label("Why is access necessary?").fill("To check what was said about the handover.")
    ada.get_by_role("button", name="Request access").click()
    ada.get_by_text("Another admin must decide").wait_for()
    shot(ada, "34-dispute-requested")
    dispute_url = ada.url

    bob = signed_in_page(browser, stack, "bob@example.org", STATE["bob"])
    bob.goto(dispute_url)
    bob.get_by_label("Reason for your decision").fill("Necessary and proportionate for this dispute.")
    bob.get_by_role("button", name="Approve access").click()
    bob.get_by_text("Access approved").first.wait_for()

    ada.reload()
    play = ada.get_by_role("button", name="Play (this is logged and the pair is told)")
    play.click()
    eventually(lambda: ada.evaluate("() => { const v = document.querySelector('video.playback');"
                                    " return !!v && v.readyState >= 1; }"), "dispute playback")
    shot(ada, "35-dispute-playback")
    bad = axe_violations(ada, axe_source())
    assert not bad, bad

    mia.goto("/#/notices")
    for _ in range(60):
        if mia.locator(".notices").get_by_text("accessed under dispute").count():
            break
        time.sleep(0.5)
        mia.reload()
        mia.locator("h1").wait_for()
    mia.locator(".notices").get_by_text("accessed under dispute").first.wait_for()
    shot(mia, "36-member-access-notice")

    # Break-glass by one admin, reviewed after the fact by another.
    bob.reload()
    bob.get_by_text("Emergency access (break-glass)").click()
    bob.get_by_label("What is the emergency?").fill("A safety risk was reported in this session just now.")
    bob.get_by_role("button", name="Use emergency access").click()
    bob.get_by_role("dialog", name="Use emergency access?").get_by_role("button", name="Use emergency access").click()
    bob.get_by_role("heading", name="Emergency access: review needed").wait_for()
    bob.get_by_text("You used emergency (break-glass) access.").wait_for()
    assert bob.get_by_role("button", name="Record the review").count() == 0, "not by the admin who broke the glass"
    ada.goto("/#/")
    ada.get_by_role("link", name="1 emergency (break-glass) access awaiting review by another admin").click()
    ada.get_by_role("heading", name="Disputes", exact=True).wait_for()
    ada.get_by_text("review by another admin", exact=False).first.wait_for()
    ada.locator("#disputes").get_by_text("Needs review").wait_for()
    ada.goto(dispute_url)
    ada.get_by_role("heading", name="Emergency access: review needed").wait_for()
    ada.get_by_label("Verdict", exact=True).select_option("justified")
    ada.get_by_label("Reason for the verdict").fill("The risk report justified immediate access.")
    shot(ada, "37-break-glass-review")
    bad = axe_violations(ada, axe_source())
    assert not bad, bad
    ada.get_by_role("button", name="Record the review").click()
    ada.locator("ol").get_by_text("emergency access reviewed (justified) by you").wait_for()
    assert ada.get_by_role("heading", name="Emergency access: review needed").count() == 0
    for page in (mia, ada, bob):
        assert not page.js_errors, page.js_errors
