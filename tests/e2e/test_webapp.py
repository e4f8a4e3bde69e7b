"""The web app in headless Chromium against the whole stack (no WebRTC here: see test_webapp_call.py).

One stack and one browser per module; the tests run in order and build on each other, like a
programme starting up: the first admin, agreements, invitations, vetting, a pairing accepted by both,
notes with the patient-identifier warning, an anonymous concern answered by safeguarding.
Screenshots of each main page land in test-artifacts/webapp/; axe-core checks the main pages.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.webapp import (
    PASSWORD,
    Browser,
    RunningStack,
    check_a11y,
    chromium_missing,
    enrol_in_page,
    shot,
    totp_now,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")]

NHS_NUMBER = "943 476 5919"  # a valid-format NHS test number: modulus 11 check digit


class World:
    """What the ordered tests hand to each other."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.steps: dict[str, int] = {}
        self.links: dict[str, str] = {}
        self.pages: dict[str, Any] = {}
        self.receipt = ""


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def no_js_errors(page: Any) -> None:
    assert not page.js_errors, page.js_errors


def set_password(page: Any, link: str) -> str | None:
    """Open an invitation link and set the password; returns the TOTP secret when one is shown."""
    page.goto(link)
    page.get_by_role("heading", name="Set your password").wait_for()
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("heading", name="Your password is set").or_(
        page.get_by_role("heading", name="Set up your authenticator app")).wait_for()
    assert "token" not in page.url, "the spent token must leave the address bar"
    if page.get_by_role("heading", name="Set up your authenticator app").count():
        return enrol_in_page(page)[0]
    page.get_by_role("button", name="Continue to sign in").click()
    page.get_by_role("heading", name="Sign in to Tandem").wait_for()
    return None


def sign_in(page: Any, world: World, who: str, email: str) -> None:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if who in world.secrets:
        code, step = totp_now(world.secrets[who], world.steps.get(who))
        world.steps[who] = step
        page.get_by_label("Authenticator code (if you have one)").fill(code)
    page.get_by_role("button", name="Sign in").click()


def accept_agreements(page: Any) -> None:
    page.get_by_role("heading", name="Programme agreements").wait_for()
    page.get_by_role("checkbox").first.wait_for()
    for box in page.get_by_role("checkbox").all():
        box.check()
    for button in page.get_by_role("button", name="Accept").all():
        button.click()


def invite(page: Any, email: str, name: str, roles: list[str], world: World | None = None) -> str:
    page.goto("/#/admin/users")
    page.get_by_role("heading", name="People", exact=True).wait_for()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Name", exact=True).fill(name)
    for label in ("Mentee", "Mentor", "Operator"):
        page.get_by_label(label, exact=True).set_checked(label in roles)
    page.get_by_role("button", name="Create the invitation").click()
    link = page.locator("#invitation-link")
    link.wait_for()
    page.locator("#users").get_by_text(email).wait_for()
    url = str(link.inner_text())
    for privileged in {"Programme admin", "Safeguarding officer"} & set(roles):
        # Granted as its own step on the person's page, with the admin's next authenticator code.
        assert world is not None, "granting a privileged role needs the admin's authenticator"
        page.locator("#grant-next").click()
        page.get_by_role("heading", name=name).wait_for()
        page.get_by_label("Role to grant").select_option(label=privileged)
        code, world.steps["admin"] = totp_now(world.secrets["admin"], world.steps.get("admin"))
        page.get_by_label("Your authenticator code").fill(code)
        page.get_by_role("button", name="Grant the role").click()
        page.get_by_role("dialog").get_by_role("button", name=f"Grant {privileged}").click()
        page.locator("#privileged-roles").get_by_text(privileged, exact=True).wait_for()
        page.goto("/#/admin/users")
        page.locator("#users").get_by_text(email).wait_for()
    return url


def test_first_admin_sets_password_enrols_totp_and_signs_in(stack: RunningStack, browser: Browser, world: World,
                                                            axe: str) -> None:
    page = browser.page(stack.url)
    world.pages["admin"] = page
    page.goto("/")
    page.get_by_role("heading", name="Sign in to Tandem").wait_for()
    shot(page, "01-sign-in")
    check_a11y(page, axe, "sign-in")
    assert page.get_attribute("#public-report-link", "href") == "/report", "reachable without an account"

    # Wrong password: a readable message, not a stack trace.
    page.get_by_label("E-mail address").fill("nobody@example.org")
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").get_by_text("The e-mail address or password is not correct.").wait_for()

    link = stack.bootstrap_admin("ada@example.org", "Ada Admin")
    page.goto(link)
    page.get_by_role("heading", name="Set your password").wait_for()
    shot(page, "02-set-password")
    check_a11y(page, axe, "set-password")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    # (The authenticator step and its screenshots: test_webapp_enrolment.py.)
    world.secrets["admin"] = enrol_in_page(page)[0]
    # Admins cannot sign in without the second factor.
    page.get_by_label("E-mail address").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").get_by_text("6-digit code").wait_for()
    sign_in(page, world, "admin", "ada@example.org")
    page.get_by_role("heading", name="Hello, Ada Admin").wait_for()
    cookies = page.context.cookies()
    assert all(c["httpOnly"] for c in cookies), "the session cookie must be HttpOnly"
    assert page.evaluate("document.cookie") == ""
    shot(page, "04-home-admin")
    check_a11y(page, axe, "home-admin")
    no_js_errors(page)


def test_admin_publishes_agreement_invites_vets_and_proposes(stack: RunningStack, world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.goto("/#/admin/agreements")
    page.get_by_label("Title").fill("Code of practice")
    page.get_by_label("Text").fill("Be kind. Keep patients anonymous. Either of you may end the pairing at any time.")
    page.get_by_role("button", name="Publish").click()
    page.locator("section li strong").get_by_text("Code of practice").wait_for()
    # Publishing asks everyone, the admin included, to accept the new version.
    page.goto("/#/")
    page.reload()
    accept_agreements(page)
    page.get_by_role("heading", name="Hello, Ada Admin").wait_for()

    world.links["mentee"] = invite(page, "mia@example.org", "Mia Mentee", ["Mentee"])
    world.links["mentor"] = invite(page, "max@example.org", "Max Mentor", ["Mentor"])
    world.links["safeguarding"] = invite(page, "sam@example.org", "Sam Safeguarding", ["Safeguarding officer"], world)
    shot(page, "05-admin-people")
    check_a11y(page, axe, "admin-people")

    page.locator("#users").get_by_role("link", name="Max Mentor").click()
    page.get_by_role("heading", name="Max Mentor").wait_for()
    for item in ("professional_verification", "references", "interview", "background_check"):
        page.locator(f"select[data-item={item}]").select_option("passed")
        expect(page.locator(f"select[data-item={item}]")).to_have_value("passed")
    page.get_by_text("Vetted", exact=True).wait_for()
    shot(page, "06-admin-user-vetting")
    check_a11y(page, axe, "admin-user")

    no_js_errors(page)


def _reload_until(page: Any, selector: str, tries: int = 40) -> None:
    """Cross-service facts travel by events: reload until the page shows them."""
    for _ in range(tries):
        if page.locator(selector).count():
            return
        time.sleep(0.25)
        page.reload()
        page.locator("h1").wait_for()
    page.locator(selector).wait_for()


def test_both_members_onboard_and_see_their_dashboard(stack: RunningStack, browser: Browser, world: World,
                                                      axe: str) -> None:
    for who, email, name in (("mentee", "mia@example.org", "Mia Mentee"), ("mentor", "max@example.org", "Max Mentor")):
        page = browser.page(stack.url)
        world.pages[who] = page
        assert set_password(page, world.links[who]) is None, "participants need no second factor"
        sign_in(page, world, who, email)
        if who == "mentee":
            page.get_by_role("heading", name="Programme agreements").wait_for()
            shot(page, "08-agreements")
            check_a11y(page, axe, "agreements")
        accept_agreements(page)
        page.get_by_role("heading", name=f"Hello, {name}").wait_for()
        page.get_by_text("You have no active pairing yet.").wait_for()
    no_js_errors(world.pages["mentor"])


def test_admin_proposes_and_both_members_accept(world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.goto("/#/admin/pairings")
    page.get_by_role("heading", name="Pairings", exact=True).wait_for()
    page.get_by_label("Mentor").select_option(label="Max Mentor")
    page.get_by_label("Mentee").select_option(label="Mia Mentee")
    # Vetting and agreement acceptance reach the sessions service as events: retry while they travel.
    for _ in range(40):
        page.get_by_role("button", name="Propose the match").click()
        page.locator("#pairings, .alert.error:not(:empty)").first.wait_for()
        if page.locator("#pairings").count():
            break
        time.sleep(0.25)
    page.locator("#pairings").get_by_role("cell", name="Waiting for acceptance").wait_for()
    shot(page, "07-admin-pairings")
    check_a11y(page, axe, "admin-pairings")
    for who in ("mentee", "mentor"):
        page = world.pages[who]
        _reload_until(page, "#pairing-list a")
        if who == "mentee":
            shot(page, "09-home-mentee-proposed")
            check_a11y(page, axe, "home-mentee")
        other = "Max Mentor" if who == "mentee" else "Mia Mentee"
        for _ in range(40):  # the gateway learns the pair from the pairing events a moment later
            if page.locator("#pairing-list a", has_text=other).count():
                break
            time.sleep(0.25)
            page.reload()
            page.locator("#pairing-list a").first.wait_for()
        page.locator("#pairing-list a", has_text=f"Pairing with {other}").wait_for()
        page.locator("#pairing-list a").first.click()
        page.get_by_role("heading", name=f"Pairing with {other}").wait_for()
        page.get_by_role("button", name="Accept the match").wait_for()
        if who == "mentee":
            shot(page, "10-pairing-proposed")
            check_a11y(page, axe, "pairing-proposed")
        page.get_by_role("button", name="Accept the match").click()
        page.locator("#pairing-state").get_by_text("Active" if who == "mentor" else "You have accepted").wait_for()
    no_js_errors(world.pages["mentor"])


def test_notes_warn_about_patient_identifiers_and_need_confirmation(world: World, axe: str) -> None:
    page = world.pages["mentee"]
    page.reload()
    _reload_until(page, "form.note-editor")
    editor = page.locator("form.note-editor").last
    editor.get_by_label("New note").fill(f"Discussed a handover. Patient NHS number {NHS_NUMBER} was mentioned.")
    editor.get_by_label("Who can read it").select_option("pair")
    editor.get_by_role("button", name="Save note").click()
    warning = editor.locator(".alert.warning")
    warning.get_by_text("an NHS number").wait_for()
    shot(page, "11-note-identifier-warning")
    check_a11y(page, axe, "note-warning")
    # Saving again without the explicit confirmation is refused in the page.
    editor.get_by_role("button", name="Save note").click()
    editor.locator(".alert.error").get_by_text("tick the box").wait_for()
    editor.get_by_label("I confirm no patient can be identified from this note.").check()
    editor.get_by_role("button", name="Save note").click()
    page.locator("#note-list .note-body").get_by_text("Discussed a handover").wait_for()

    # Schedule a session starting in a minute: the room is open, so "Join the call" appears.
    page.get_by_role("button", name="Schedule").click()
    page.locator("#session-list").get_by_role("link", name="Join the call").wait_for()
    shot(page, "12-pairing-active")
    check_a11y(page, axe, "pairing-active")

    # A second session next week, then cancelled (with a confirmation): it leaves the list.
    later = time.strftime("%Y-%m-%dT10:00", time.localtime(time.time() + 7 * 86400))
    page.get_by_label("Starts").fill(later)
    page.get_by_role("button", name="Schedule").click()
    sessions = page.locator("#session-list > li")
    expect(sessions).to_have_count(2)
    sessions.nth(1).get_by_role("button", name="Cancel", exact=False).click()
    dialog = page.get_by_role("dialog", name="Cancel this session?")
    dialog.get_by_role("button", name="Cancel the session").click()
    expect(page.locator("#session-list > li")).to_have_count(1)
    page.get_by_text("1 cancelled session not shown.").wait_for()
    assert page.locator("#session-list").get_by_role("link", name="Join the call").count() == 1

    # The mentor sees the shared note (pair visibility), not editable by them.
    mentor = world.pages["mentor"]
    mentor.reload()
    _reload_until(mentor, "#note-list .note-body")
    assert "Discussed a handover" in mentor.inner_text("#note-list")
    assert mentor.locator("#note-list").get_by_role("button", name="Edit").count() == 0
    no_js_errors(page)


def test_anonymous_concern_receipt_reply_and_follow_up(stack: RunningStack, browser: Browser, world: World,
                                                       axe: str) -> None:
    page = world.pages["mentee"]
    page.goto("/#/concern")
    page.get_by_role("heading", name="Report a concern").wait_for()
    check_a11y(page, axe, "concern-form")
    page.get_by_label("What is it about?").select_option("boundary")
    page.get_by_label("What happened?").fill("My mentor asked me to meet outside the programme.")
    page.get_by_label("Report anonymously", exact=False).check()
    shot(page, "13-concern-form")
    page.get_by_role("button", name="Send the report").click()
    page.locator("#receipt").wait_for()
    world.receipt = page.inner_text("#receipt").strip()
    assert len(world.receipt) >= 22
    page.get_by_text("Store this receipt now. It is shown only once.").wait_for()
    page.get_by_role("button", name="Copy the receipt").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == world.receipt
    shot(page, "14-concern-receipt")
    check_a11y(page, axe, "concern-receipt")
    # Shown once: going back does not show it again.
    page.goto("/#/")
    page.get_by_role("heading", name="Hello, Mia Mentee").wait_for()
    page.goto("/#/concern")
    page.get_by_role("button", name="Send the report").wait_for()
    assert world.receipt not in page.inner_text("main")

    officer = browser.page(stack.url)
    world.pages["safeguarding"] = officer
    secret = set_password(officer, world.links["safeguarding"])
    assert secret, "safeguarding officers must enrol a second factor"
    world.secrets["safeguarding"] = secret
    sign_in(officer, world, "safeguarding", "sam@example.org")
    accept_agreements(officer)
    officer.get_by_role("heading", name="Hello, Sam Safeguarding").wait_for()
    officer.goto("/#/safeguarding")
    _reload_until(officer, "#cases a")
    shot(officer, "15-safeguarding-inbox")
    check_a11y(officer, axe, "safeguarding-inbox")
    officer.locator("#cases a").first.click()
    officer.get_by_text("My mentor asked me to meet outside the programme.").wait_for()
    officer.get_by_role("button", name="Mark as acknowledged").click()
    officer.get_by_role("button", name="Mark as being looked into").wait_for()
    officer.get_by_label("Message to the reporter").fill("Thank you for telling us. We are looking into it.")
    officer.get_by_role("button", name="Send to the reporter").click()
    officer.locator("#messages").get_by_text("We are looking into it.").wait_for()
    shot(officer, "16-safeguarding-case")
    check_a11y(officer, axe, "safeguarding-case")

    page.goto("/#/concern/follow-up")
    page.get_by_label("Receipt", exact=True).fill("not-a-real-receipt-at-all-000000")
    page.get_by_role("button", name="Show my report").click()
    page.get_by_role("alert").get_by_text("We could not find a report for this receipt").wait_for()
    page.get_by_label("Receipt", exact=True).fill(world.receipt)
    page.get_by_role("button", name="Show my report").click()
    page.locator("#messages").get_by_text("We are looking into it.").wait_for()
    page.get_by_label("Message", exact=True).fill("Thank you. It happened twice.")
    page.get_by_role("button", name="Send message").click()
    page.locator("#messages").get_by_text("It happened twice.").wait_for()
    shot(page, "17-concern-follow-up")
    check_a11y(page, axe, "concern-follow-up")
    no_js_errors(page)
    no_js_errors(officer)


ATTACHMENT = b"%PDF-1.4\n% a small stand-in for the reporter's document\n"


def test_public_concern_without_an_account_with_attachment(stack: RunningStack, browser: Browser, world: World,
                                                           axe: str) -> None:
    # Someone without an account: from the sign-in page to the public form, no cookie anywhere.
    page = browser.page(stack.url)
    world.pages["public"] = page
    page.goto("/")
    page.get_by_role("link", name="Report a concern without signing in").click()
    page.get_by_role("heading", name="Report a concern").wait_for()
    assert page.url.endswith("/report")
    page.get_by_text("You do not need an account.").wait_for()
    assert page.get_by_label("Report anonymously", exact=False).count() == 0, "the public form is always anonymous"
    check_a11y(page, axe, "public-concern")
    page.get_by_label("What is it about?").select_option("confidentiality_breach")
    page.get_by_label("What happened?").fill("A visitor saw session notes left open on a shared screen.")
    page.get_by_label("Attachments (optional)").set_input_files(
        [{"name": "screen-photo.pdf", "mimeType": "application/pdf", "buffer": ATTACHMENT}])
    page.locator("#concern-file-list").get_by_text("screen-photo.pdf").wait_for()
    shot(page, "13b-public-concern")
    page.get_by_role("button", name="Send the report").click()
    page.locator("#receipt").wait_for()
    receipt = page.inner_text("#receipt").strip()
    assert page.context.cookies() == [], "no session, no cookie"
    shot(page, "13c-public-concern-receipt")
    check_a11y(page, axe, "public-concern-receipt")

    # Safeguarding sees the attachment, downloads it, places a legal hold, and replies.
    officer = world.pages["safeguarding"]
    officer.goto("/#/safeguarding")
    officer.get_by_role("heading", name="Reports inbox").wait_for()
    _reload_until(officer, "#cases tr:has-text('confidentiality') a")
    officer.locator("#cases tr:has-text('confidentiality') a").first.click()
    officer.get_by_text("A visitor saw session notes").wait_for()
    attachments = officer.locator("#attachments")
    attachments.get_by_text("screen-photo.pdf").first.wait_for()
    with officer.expect_download() as download:
        attachments.get_by_role("link", name="Download screen-photo.pdf").click()
    saved = download.value
    assert saved.suggested_filename == "screen-photo.pdf"
    assert Path(saved.path()).read_bytes() == ATTACHMENT
    officer.get_by_label("Why place a hold?").fill("Possible proceedings: keep the evidence.")
    officer.get_by_role("button", name="Place a legal hold").click()
    officer.get_by_role("button", name="Release the legal hold").wait_for()
    officer.get_by_text("Legal hold", exact=True).first.wait_for()
    officer.get_by_label("Message to the reporter").fill("Thank you. Which ward was it?")
    officer.get_by_role("button", name="Send to the reporter").click()
    officer.locator("#messages").get_by_text("Which ward was it?").wait_for()
    world.links["case"] = officer.url
    shot(officer, "16b-safeguarding-case-attachment")
    check_a11y(officer, axe, "safeguarding-case-attachment")

    # Back without an account: the follow-up page reads the reply with the receipt.
    page.goto("/report/follow-up")
    page.get_by_role("heading", name="Follow up an anonymous report").wait_for()
    page.get_by_label("Receipt", exact=True).fill(receipt)
    page.get_by_role("button", name="Show my report").click()
    page.locator("#messages").get_by_text("Which ward was it?").wait_for()
    page.get_by_text("screen-photo.pdf").wait_for()
    page.get_by_label("Message", exact=True).fill("Ward 5, on Tuesday.")
    page.get_by_role("button", name="Send message").click()
    page.locator("#messages").get_by_text("Ward 5, on Tuesday.").wait_for()
    assert page.context.cookies() == []
    shot(page, "17c-public-follow-up")
    check_a11y(page, axe, "public-follow-up")
    no_js_errors(page)
    no_js_errors(officer)


def test_identified_concern_is_listed_under_my_reports(world: World) -> None:
    page = world.pages["mentor"]
    page.goto("/#/concern")
    page.get_by_label("What is it about?").select_option("safety")
    page.get_by_label("What happened?").fill("A fire door on ward 3 was blocked during my shift.")
    page.get_by_role("button", name="Send the report").click()
    page.get_by_role("heading", name="Thank you — your report was sent").wait_for()
    assert page.locator("#receipt").count() == 0, "identified reports get no receipt"
    page.get_by_role("link", name="See your report and replies").click()
    page.get_by_text("A fire door on ward 3 was blocked during my shift.").wait_for()
    page.goto("/#/concerns")
    page.get_by_role("link", name="safety", exact=False).wait_for()
    no_js_errors(page)


def test_identity_reveal_needs_a_second_officer(stack: RunningStack, browser: Browser, world: World) -> None:
    admin = world.pages["admin"]
    link = invite(admin, "sue@example.org", "Sue Safeguarding", ["Safeguarding officer"], world)
    sam = world.pages["safeguarding"]
    sam.goto("/#/safeguarding")
    sam.get_by_role("heading", name="Reports inbox").wait_for()
    _reload_until(sam, "#cases tr:has-text('Identified') a")
    sam.locator("#cases tr:has-text('Identified') a").first.click()
    sam.get_by_text("A fire door on ward 3").wait_for()
    assert "max@example.org" not in sam.inner_text("main")
    sam.get_by_label("Why do you need to know who reported this?").fill("We need to ask where exactly it was.")
    sam.get_by_role("button", name="Ask to reveal the identity").click()
    sam.get_by_text("Request by you").wait_for()
    assert sam.get_by_role("button", name="Approve the reveal").count() == 0, "not by the officer who asked"
    case_url = sam.url

    sue = browser.page(stack.url)
    world.pages["safeguarding2"] = sue
    secret = set_password(sue, link)
    assert secret
    world.secrets["safeguarding2"] = secret
    sign_in(sue, world, "safeguarding2", "sue@example.org")
    accept_agreements(sue)
    sue.get_by_role("heading", name="Hello, Sue Safeguarding").wait_for()
    sue.goto(case_url)
    sue.get_by_label("Reason for approving").fill("Needed to locate the hazard.")
    sue.get_by_role("button", name="Approve the reveal").click()
    sue.get_by_text("Identity revealed: Max Mentor (user").wait_for()
    shot(sue, "17b-safeguarding-identity-revealed")
    no_js_errors(sue)


def test_member_and_admin_open_disputes(world: World, axe: str) -> None:
    mentee = world.pages["mentee"]
    mentee.goto("/#/")
    mentee.locator("#pairing-list a").first.click()
    mentee.get_by_label("What is the disagreement?").fill("We remember the agreed actions differently.")
    mentee.get_by_role("button", name="Open a dispute").click()
    mentee.get_by_text("Your dispute is open.").wait_for()

    page = world.pages["admin"]
    page.goto("/#/admin/pairings")
    page.locator("#pairings").get_by_role("link", name="Open the pairing of Max Mentor and Mia Mentee").click()
    page.get_by_role("heading", name="Pairing of Max Mentor and Mia Mentee").wait_for()
    page.locator("#session-list > li").first.wait_for()
    assert "Cancelled" in page.inner_text("#session-list"), "admins see cancelled sessions too"
    assert page.locator("#note-list").count() == 0, "admins never see notes here"
    page.get_by_label("Why is a dispute needed?").fill("The mentee raised a complaint about this session.")
    shot(page, "07b-admin-pairing")
    check_a11y(page, axe, "admin-pairing")
    page.get_by_role("button", name="Open a dispute as admin").click()
    page.get_by_role("heading", name="Dispute", exact=False).wait_for()
    page.get_by_text("About a session of Max Mentor (mentor) and Mia Mentee (mentee).").wait_for()
    expect(page.locator("p.lead")).to_contain_text("by you")
    page.locator("ol").get_by_text("opened by you").wait_for()
    world.links["dispute"] = page.url
    check_a11y(page, axe, "admin-dispute")
    no_js_errors(page)


def test_admin_pages_and_notices(world: World, axe: str) -> None:
    page = world.pages["admin"]
    for path, heading, name in (("/#/admin/disputes", "Disputes", "18-admin-disputes"),
                                ("/#/admin/audit", "Audit ledger", "19-admin-audit"),
                                ("/#/admin/retention", "Retention", "20-admin-retention")):
        page.goto(path)
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        page.wait_for_load_state("networkidle")
        if name == "19-admin-audit":  # a hash change: its first page comes after the heading, with no load event
            expect(page.locator("#audit-status")).not_to_be_empty()
        shot(page, name)
        check_a11y(page, axe, name)
    page.goto("/#/admin/audit")
    page.get_by_label("Action").fill("auth.login")
    page.get_by_role("button", name="Search").click()
    page.locator("#audit").get_by_text("auth.login").first.wait_for()
    page.locator("#audit").get_by_text("Ada Admin (").first.wait_for()  # actors named for admins

    mentee = world.pages["mentee"]
    mentee.goto("/#/notices")
    mentee.locator(".notices").get_by_text("pairing is now active").first.wait_for()
    shot(mentee, "21-notices")
    check_a11y(mentee, axe, "notices")
    no_js_errors(page)


def test_phone_width_has_no_sideways_scrolling(stack: RunningStack, world: World, tmp_path: Path) -> None:
    page = world.pages["mentee"]
    page.set_viewport_size({"width": 360, "height": 740})
    for path, name in (("/#/", "22-phone-home"), ("/#/concern", "23-phone-concern")):
        page.goto(path)
        page.locator("h1").wait_for()
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        shot(page, name)
    public = world.pages["public"]
    public.set_viewport_size({"width": 360, "height": 740})
    public.goto("/report")
    public.get_by_role("heading", name="Report a concern").wait_for()
    assert public.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "/report"
    shot(public, "24-phone-public-concern")
    for who, path, heading, name in (("safeguarding", world.links["case"], "Case ", "25-phone-safeguarding-case"),
                                     ("admin", world.links["dispute"], "Dispute ", "26-phone-admin-dispute")):
        page = world.pages[who]
        page.set_viewport_size({"width": 360, "height": 740})
        page.goto(path)
        page.locator("h1", has_text=heading).wait_for()
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        shot(page, name)
        page.set_viewport_size({"width": 1200, "height": 900})


def test_keyboard_only_sign_out(world: World) -> None:
    page = world.pages["mentor"]
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto("/#/")
    page.reload()
    page.get_by_role("heading", name="Hello, Max Mentor").wait_for()
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.id") == "skip-link"
    page.locator("#sign-out").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Sign in to Tandem").wait_for()
    page.get_by_text("You have signed out.").wait_for()

