"""Authenticator enrolment in the web app, as a person with a phone does it (headless Chromium, whole stack).

The set-password link of an admin leads to the authenticator step: a QR code (an inline <svg> the gateway
made), the key in groups of four and the otpauth link; a wrong code is refused, a right one confirms the key
and shows ten recovery codes once, behind an "I have saved them" step. A recovery code then signs in once,
and not a second time; after one, the page says how many are left and offers new ones for a fresh
authenticator code (the old set dies). Someone who set a password but closed the page before confirming is
sent back to the authenticator step when they sign in (on a phone-sized page: no sideways scroll).
Screenshots: 03-authenticator, 03b-recovery-codes, 03c-recovery-code-used.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.gateway import previous_step_code
from tests.support.webapp import (
    PASSWORD,
    Browser,
    RunningStack,
    axe_source,
    check_a11y,
    chromium_missing,
    enrol_in_page,
    shot,
    token_of,
    totp_now,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")]


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), "sideways scroll"


def sign_in_form(page: Any, email: str, *, totp: str | None = None, recovery: str | None = None) -> None:
    page.get_by_role("heading", name="Sign in to Tandem").wait_for()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if totp:
        page.get_by_label("Authenticator code (if you have one)").fill(totp)
    if recovery:
        page.get_by_text("Lost your phone? Use a recovery code").click()
        page.get_by_label("Recovery code").fill(recovery)
    page.get_by_role("button", name="Sign in").click()


def test_enrolment_with_a_phone_then_a_recovery_code_signs_in_once(stack: RunningStack, browser: Browser) -> None:
    axe = axe_source()
    page = browser.page(stack.url, width=1000)
    page.goto(stack.bootstrap_admin("ada@example.org", "Ada Admin"))
    page.get_by_role("heading", name="Set your password").wait_for()
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()

    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    qr = page.locator("svg#totp-qr")
    expect(qr).to_be_visible()
    assert qr.locator("path").count() >= 1 and qr.locator("text, script, a, foreignObject").count() == 0
    assert qr.get_attribute("role") == "img" and qr.get_attribute("aria-label")
    key = page.inner_text("#totp-secret").strip()
    assert all(len(group) == 4 for group in key.split(" ")[:-1]), key  # grouped in fours for typing
    secret = key.replace(" ", "")
    assert (page.get_attribute("#totp-link", "href") or "").startswith("otpauth://totp/")
    shot(page, "03-authenticator")
    check_a11y(page, axe, "authenticator")

    code = page.get_by_label("Code from your authenticator app")
    code.fill("000000")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("alert").get_by_text("The code is not correct").wait_for()
    code.fill(previous_step_code(secret))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    codes = [c.strip() for c in page.locator("#recovery-codes li").all_inner_texts()]
    assert len(codes) == 10 == len(set(codes))
    shot(page, "03b-recovery-codes")
    check_a11y(page, axe, "recovery-codes")
    page.get_by_role("button", name="Continue to sign in").click()  # not before saying they are saved
    page.get_by_role("alert").get_by_text("Tick the box once you have saved the codes").wait_for()
    page.get_by_label("I have saved these codes somewhere safe, away from my phone.").check()
    page.get_by_role("button", name="Continue to sign in").click()

    # A lost phone: a recovery code signs in, once.
    sign_in_form(page, "ada@example.org", recovery=codes[0])
    page.get_by_role("heading", name="You signed in with a recovery code").wait_for()
    page.get_by_text("You have 9 recovery codes left.").wait_for()
    shot(page, "03c-recovery-code-used")
    check_a11y(page, axe, "recovery-code-used")
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("heading", name="Hello, Ada Admin").wait_for()
    page.get_by_role("button", name="Sign out").click()
    sign_in_form(page, "ada@example.org", recovery=codes[0])
    page.get_by_role("alert").get_by_text("This recovery code is not correct or was used already.").wait_for()
    assert not page.js_errors, page.js_errors

    # The phone again: the authenticator's own code signs in.
    fresh = browser.page(stack.url)
    fresh.goto("/")
    sign_in_form(fresh, "ada@example.org", totp=totp_now(secret)[0])
    fresh.get_by_role("heading", name="Hello, Ada Admin").wait_for()
    assert not fresh.js_errors, fresh.js_errors


def test_a_password_set_without_confirming_leads_back_to_the_authenticator_step(stack: RunningStack,
                                                                                 browser: Browser) -> None:
    link = stack.bootstrap_admin("bob@example.org", "Bob Admin", force=True)
    r = httpx.post(f"{stack.url}/auth/invitations/accept", json={"token": token_of(link), "password": PASSWORD},
                   timeout=30)
    assert r.status_code == 200 and r.json()["totp_required"]  # ... and the page was closed there
    page = browser.page(stack.url, width=360, height=740)  # on the phone itself
    page.goto("/")
    sign_in_form(page, "bob@example.org")
    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    no_sideways_scroll(page)
    secret, codes = enrol_in_page(page)
    assert secret == r.json()["totp_enrolment"]["secret"] and len(codes) == 10
    # Signed in with a recovery code, phone at hand: a new set of codes for a fresh authenticator code.
    sign_in_form(page, "bob@example.org", recovery=codes[0])
    page.get_by_role("heading", name="You signed in with a recovery code").wait_for()
    page.get_by_label("Code from your authenticator app").fill(totp_now(secret)[0])
    page.get_by_role("button", name="Get new recovery codes").click()
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    no_sideways_scroll(page)
    renewed = [c.strip() for c in page.locator("#recovery-codes li").all_inner_texts()]
    assert len(renewed) == 10 and not set(renewed) & set(codes)
    page.get_by_label("I have saved these codes somewhere safe, away from my phone.").check()
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("heading", name="Hello, Bob Admin").wait_for()
    # The old set died with the new one.
    page.get_by_role("button", name="Sign out").click()
    sign_in_form(page, "bob@example.org", recovery=codes[1])
    page.get_by_role("alert").get_by_text("This recovery code is not correct or was used already.").wait_for()
    assert not page.js_errors, page.js_errors
