"""Small things of the web app, each checked in headless Chromium against the whole stack: an unknown
address gets a page, the favicon, Pairings in the admins' navigation, the patient-identifier warning
withdrawn when the note is edited, an acknowledged case without its deadline, a recorded session under
legal hold shown as such, and an audit ledger that pages and hides its own searches.

Setup (accounts, agreements, vetting, pairing, a session, a recording) goes through the HTTP API; the
pages under test are driven in the browser. Screenshots land in test-artifacts/webapp/ (42-48).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import expect

from tests.support.webapp import (
    Browser,
    RunningStack,
    accept_invitation,
    chromium_missing,
    eventually,
    service_token,
    shot,
    signed_in_page,
    upload_recording,
)
from tests.support.webapp import (
    check_page as check,
)
from tests.support.webapp_world import (
    World,
    active_pairing,
    add_member,
    closing_apis,
    first_admin,
    publish_agreement,
    vet,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")]

NHS_NUMBER = "943 476 5919"  # a valid-format NHS test number (modulus 11 check digit)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def world(stack: RunningStack, browser: Browser) -> Iterator[World]:
    w = World()
    base = stack.url
    with closing_apis():
        secret = first_admin(w, stack, browser)
        admin = w.apis["admin"]
        agreement = publish_agreement(admin)
        add_member(w, stack, agreement, "mentee", "mia@example.org", "Mia Mentee", "mentee")
        add_member(w, stack, agreement, "mentor", "max@example.org", "Max Mentor", "mentor")
        vet(admin, w.ids["mentor"])
        # A safeguarding officer: granted explicitly, with the admin's next authenticator code.
        officer = admin.call("POST", "/admin/users", {"email": "sam@example.org", "display_name": "Sam Safeguarding",
                                                      "roles": []})
        admin.call("POST", f"/admin/users/{officer['user_id']}/privileged-roles", {
            "role": "safeguarding", "confirm": True, "totp_code": pyotp.TOTP(secret).at(int(time.time()) + 30)})
        link = admin.call("POST", f"/admin/users/{officer['user_id']}/invitation")["invitation_url"]
        officer_secret = accept_invitation(base, link)
        assert officer_secret
        w.pages["safeguarding"] = signed_in_page(browser, stack, "sam@example.org", (officer_secret, None))
        w.ids["pairing"] = active_pairing(admin, w.ids["mentor"], w.ids["mentee"],
                                          (w.apis["mentee"], w.apis["mentor"]))
        w.pages["mentee"] = signed_in_page(browser, stack, "mia@example.org")
        yield w


def open_pairing(page: Any, pairing_id: str, ready: str) -> None:
    """Open the pairing page, reloading while records learns of the pairing (facts travel as events)."""
    page.goto(f"/#/pairings/{pairing_id}")
    for _ in range(60):
        page.locator("h1", has_text="Pairing").wait_for()
        page.wait_for_load_state("networkidle")
        if page.locator(ready).count():
            return
        time.sleep(0.25)
        page.reload()
    page.locator(ready).first.wait_for()


def test_an_unknown_address_gets_a_page_not_raw_json(stack: RunningStack, browser: Browser, axe: str) -> None:
    page = browser.page(stack.url)
    for path in ("/no-such-page", "/pairings/xyz/zzz"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        page.get_by_role("heading", name="Page not found").wait_for()
    shot(page, "42-page-not-found")
    check(page, axe, "not-found")
    page.get_by_role("link", name="Go to the home page").click()
    page.get_by_role("heading", name="Sign in to Tandem").wait_for()
    # The API keeps answering problem+json, even to a client that would take HTML.
    api = httpx.get(f"{stack.url}/api/nowhere/at/all", headers={"accept": BROWSER_ACCEPT})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")
    fetched = httpx.get(f"{stack.url}/no-such-page", headers={"accept": "application/json"})
    assert fetched.status_code == 404 and fetched.headers["content-type"].startswith("application/problem+json")
    page.context.close()


def test_the_favicon_is_served_and_linked(stack: RunningStack, browser: Browser) -> None:
    page = browser.page(stack.url)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 and "favicon" in r.url else None)
    page.goto("/")
    page.get_by_role("heading", name="Sign in to Tandem").wait_for()
    href = page.get_attribute("link[rel=icon]", "href")
    assert href == "/web/favicon.svg"
    for path in (href, "/favicon.ico"):
        resp = page.request.get(path)
        assert resp.status == 200, path
        assert resp.headers["content-type"].startswith("image/svg+xml"), path
    page.wait_for_load_state("networkidle")
    assert not failed, failed  # the browser's own request for the icon (if any) did not fail
    page.context.close()


def test_admins_find_pairings_in_the_navigation(world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.goto("/#/")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Pairings").click()
    page.get_by_role("heading", name="Pairings", exact=True).wait_for()
    expect(nav.get_by_role("link", name="Pairings")).to_have_attribute("aria-current", "page")
    mentee_nav = world.pages["mentee"].get_by_role("navigation", name="Main")
    assert mentee_nav.get_by_role("link", name="Pairings").count() == 0
    check(page, axe, "admin-pairings")


def _note_posts(page: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}"))
            if r.method == "POST" and r.url.endswith("/api/records/notes/") else None)
    return sent


def test_editing_a_warned_note_rechecks_it(world: World, axe: str) -> None:
    page = world.pages["mentee"]
    sent = _note_posts(page)
    open_pairing(page, world.ids["pairing"], "form.note-editor")
    editor = page.locator("form.note-editor").last
    text = editor.get_by_label("New note")
    text.fill(f"Handover went well. Patient NHS number {NHS_NUMBER} came up.")
    editor.get_by_role("button", name="Save note").click()
    warning = editor.locator(".alert.warning")
    warning.get_by_text("an NHS number").wait_for()
    tick = editor.get_by_label("I confirm no patient can be identified from this note.")
    expect(tick).to_be_visible()
    check(page, axe, "note-warning")
    # Ticked, then edited: the tick was for the old text; it does not carry over.
    tick.check()
    text.fill("Handover went well. We talked about escalation.")
    expect(warning).to_be_hidden()
    expect(tick).to_be_hidden()
    assert not tick.is_checked()
    with page.expect_response(lambda r: r.url.endswith("/api/records/notes/") and r.request.method == "POST") as saved:
        editor.get_by_role("button", name="Save note").click()
    assert saved.value.status == 201
    assert sent[-1]["text"] == "Handover went well. We talked about escalation."
    assert sent[-1]["confirm_identifiers"] is False, "the server decides again"
    page.locator("#note-list .note-body").get_by_text("We talked about escalation.").wait_for()
    stored = world.apis["mentee"].call("GET", f"/api/records/notes/?pairing_id={world.ids['pairing']}")
    texts = [world.apis["mentee"].call("GET", f"/api/records/notes/{n['id']}")["text"] for n in stored]
    assert texts == ["Handover went well. We talked about escalation."], texts

    # A false alarm (a ward phone extension that looks like an NHS number): the tick saves it as it is.
    editor = page.locator("form.note-editor").last
    alarm = f"Call the ward on extension {NHS_NUMBER} before the review."
    editor.get_by_label("New note").fill(alarm)
    editor.get_by_role("button", name="Save note").click()
    editor.locator(".alert.warning").get_by_text("an NHS number").wait_for()
    editor.get_by_label("I confirm no patient can be identified from this note.").check()
    editor.get_by_role("button", name="Save note").click()
    page.locator("#note-list .note-body").get_by_text("Call the ward on extension").wait_for()
    assert sent[-1] == {**sent[-1], "text": alarm, "confirm_identifiers": True}
    assert page.js_errors == []


def test_an_acknowledged_case_drops_its_deadline(world: World, axe: str) -> None:
    world.apis["mentor"].call("POST", "/api/reports/concerns",
                              {"category": "safety", "text": "A fire door on ward 3 was blocked.", "anonymous": False})
    officer = world.pages["safeguarding"]
    officer.goto("/#/safeguarding")
    officer.get_by_role("heading", name="Reports inbox").wait_for()
    for _ in range(60):
        if officer.locator("#cases a").count():
            break
        time.sleep(0.25)
        officer.reload()
        officer.get_by_role("heading", name="Reports inbox").wait_for()
    row = officer.locator("#cases tbody tr").first
    expect(row).to_contain_text("Acknowledge by")
    row.get_by_role("link").click()
    officer.get_by_text("A fire door on ward 3 was blocked.").wait_for()
    expect(officer.locator("#case-dates")).to_contain_text("acknowledge by")
    officer.get_by_role("button", name="Mark as acknowledged").click()
    officer.get_by_role("button", name="Mark as being looked into").wait_for()
    dates = officer.locator("#case-dates")
    expect(dates).to_contain_text("acknowledged")
    expect(dates).not_to_contain_text("acknowledge by")
    shot(officer, "43-safeguarding-case-acknowledged")
    check(officer, axe, "case-acknowledged")
    officer.goto("/#/safeguarding")
    row = officer.locator("#cases tbody tr").first
    expect(row).to_contain_text("Acknowledged")
    expect(row).not_to_contain_text("Acknowledge by")
    shot(officer, "44-safeguarding-inbox-acknowledged")
    check(officer, axe, "inbox-acknowledged")


def test_a_recorded_session_on_hold_is_not_shown_as_scheduled(stack: RunningStack, world: World, axe: str) -> None:
    pairing = world.ids["pairing"]
    start = datetime.now(UTC) + timedelta(minutes=1)
    session = world.apis["mentee"].call("POST", f"/api/sessions/pairings/{pairing}/sessions", {
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()})["session_id"]
    # The call took place and was recorded (stored as the recorder stores it), then disputed: on hold.
    upload_recording(stack, service_token(stack), session, pairing, b"\x1aE\xdf\xa3 a stand-in for a WebM file")
    admin = world.apis["admin"]

    def dispute() -> Any:
        resp = admin.http.post("/api/records/disputes/", json={"session_id": session,
                                                               "reason": "The mentee disputes the advice given."})
        return resp.json() if resp.status_code == 201 else None

    eventually(dispute, "records to learn of the session")
    page = world.pages["admin"]
    open_pairing(page, pairing, "#session-list .tag:has-text('Recorded')")
    item = page.locator("#session-list > li").first
    expect(item).to_contain_text("Took place")
    expect(item).to_contain_text("On legal hold (dispute)")
    expect(page.locator("#session-list")).not_to_contain_text("Scheduled")
    assert "Scheduled" not in page.inner_text("#dispute-session")
    shot(page, "45-admin-pairing-recorded-on-hold")
    check(page, axe, "admin-pairing-held")
    # The pair sees the same on their page.
    mentee = world.pages["mentee"]
    open_pairing(mentee, pairing, "#session-list .tag:has-text('Recorded')")
    expect(mentee.locator("#session-list > li").first).to_contain_text("On legal hold (dispute)")
    check(mentee, axe, "member-pairing-held")


def test_the_audit_ledger_pages_and_hides_its_own_searches(world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.goto("/#/admin/audit")
    page.get_by_role("heading", name="Audit ledger", exact=True).wait_for()
    expect(page.locator("#audit-status")).to_contain_text("Page 1: entries 1")  # the first page comes by itself
    for _ in range(3):  # a few more searches of the ledger: the page must not be buried by them
        page.get_by_role("button", name="Search").click()
        page.wait_for_load_state("networkidle")
    table = page.locator("#audit")
    table.locator("tbody tr").first.wait_for()
    actions = table.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert "audit.search" not in actions, actions
    assert "dispute.open" in actions and "pairing.propose" in actions, actions
    expect(page.locator("#audit-status")).to_contain_text("Searches of the ledger are hidden.")
    first_time = table.locator("tbody tr td time").first
    assert len(first_time.inner_text()) <= 22 and first_time.get_attribute("datetime"), "compact, with the exact time"
    shot(page, "46-admin-audit")
    check(page, axe, "admin-audit")

    page.get_by_label("Show searches of the ledger (audit.search)").check()
    expect(table.locator("tbody tr td:nth-child(3)").first).to_have_text("audit.search")
    page.get_by_label("Show searches of the ledger (audit.search)").uncheck()
    expect(table.locator("tbody tr td:nth-child(3)").first).not_to_have_text("audit.search")

    # Paging: ten a page; older, and back to the newest.
    page.get_by_label("Entries per page").select_option("10")
    expect(table.locator("tbody tr")).to_have_count(10)
    newest = table.locator("tbody tr").first.inner_text()
    expect(page.get_by_role("button", name="Newer")).to_be_disabled()
    page.get_by_role("button", name="Older").click()
    expect(page.locator("#audit-status")).to_contain_text("Page 2: entries 11\N{EN DASH}")
    assert table.locator("tbody tr").first.inner_text() != newest
    page.get_by_role("button", name="Newer").click()
    expect(page.locator("#audit-status")).to_contain_text("Page 1: entries 1\N{EN DASH}10")
    expect(page.get_by_role("button", name="Newer")).to_be_disabled()

    # Filters: an action, and a day range.
    page.get_by_label("Action").fill("pairing.propose")
    page.get_by_role("button", name="Search").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    today = datetime.now().strftime("%Y-%m-%d")  # noqa: DTZ005 - the browser's local day, as the page uses
    page.get_by_label("From (date)").fill(today)
    page.get_by_label("To (date, included)").fill(today)
    page.get_by_role("button", name="Search").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    assert page.js_errors == []



def test_a_french_browser_gets_the_public_concern_form_in_french(stack: RunningStack, browser: Browser,
                                                                 axe: str) -> None:
    """Signed out, the page speaks the browser's language: an anonymous reporter with a French browser."""
    page = browser.page(stack.url, locale="fr-FR")
    page.goto("/report")
    page.get_by_role("heading", name="Signaler une préoccupation").wait_for()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_label("De quoi s\N{RIGHT SINGLE QUOTATION MARK}agit-il ?")).to_be_visible()
    expect(page.get_by_label("Que s\N{RIGHT SINGLE QUOTATION MARK}est-il passé ?")).to_be_visible()
    expect(page.get_by_role("button", name="Envoyer le signalement")).to_be_visible()
    expect(page.get_by_text("Vous n\N{RIGHT SINGLE QUOTATION MARK}avez pas besoin de compte.")).to_be_visible()
    page.get_by_role("button", name="Envoyer le signalement").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Choisissez l\N{RIGHT SINGLE QUOTATION MARK}objet de la préoccupation.")
    shot(page, "concern-public-fr")
    check(page, axe, "concern-public-fr")
    page.goto("/report/follow-up")
    page.get_by_role("heading", name="Suivre un signalement anonyme").wait_for()
    page.context.close()


def test_a_member_in_french_sees_the_home_page_and_notices_in_french(world: World, axe: str) -> None:
    page, api = world.pages["mentee"], world.apis["mentee"]
    api.call("PUT", "/me/language", {"language": "fr"})
    try:
        page.goto("/#/")
        page.reload()
        page.get_by_role("heading", name="Bonjour, Mia Mentee").wait_for()
        page.get_by_role("heading", name="Vos jumelages").wait_for()
        expect(page.get_by_role("heading", name="Séances à venir")).to_be_visible()
        expect(page.locator("#main").get_by_role("link", name="Signaler une préoccupation")).to_be_visible()
        expect(page.locator(".notice-text").first).to_be_visible()
        shot(page, "home-fr")
        check(page, axe, "home-fr")
        page.goto("/#/notices")
        page.get_by_role("heading", name="Avis", exact=True).wait_for()
        expect(page.locator(".notice-text", has_text="Votre jumelage est maintenant actif").first).to_be_visible()
    finally:
        api.call("PUT", "/me/language", {"language": "en"})
    page.goto("/#/")
    page.reload()
    page.get_by_role("heading", name="Hello, Mia Mentee").wait_for()
