"""The invitation form hands out exactly the roles the admin chose (issue 14, item 4), in headless Chromium
against the whole stack.

Three invitations in a row, as an admin would make them: ticking only what each person needs and never
unticking anything (the bug: "Mentee" was pre-ticked and ticked boxes stayed ticked for the next person, so a
mentor and a mentee both became mentee+mentor and a safeguarding officer mentee+mentor+safeguarding). The
officer's role is granted as its own explicit step on their page, with a confirmation and the admin's
authenticator code; a second admin is told in their inbox, and the officer enrols a second factor when the
link is used. Each account's roles are then read back from the API.
"""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from tests.support.webapp import (
    PASSWORD,
    Browser,
    RunningStack,
    accept_invitation,
    chromium_missing,
    shot,
    totp_now,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")]

ROLE_LABELS = {"mentee": "Mentee", "mentor": "Mentor", "operator": "Operator"}


def accept(base: str, link: str) -> str | None:
    """Set the password through the API; the TOTP secret (enrolment confirmed) when the roles need one."""
    return accept_invitation(base, link)


def form_is_blank(page: Any) -> None:
    """Nothing of the previous invitation is left: no address, no name, no role ticked."""
    expect(page.get_by_label("E-mail address")).to_have_value("")
    expect(page.get_by_label("Name", exact=True)).to_have_value("")
    for label in ROLE_LABELS.values():
        expect(page.get_by_label(label, exact=True)).not_to_be_checked()
    # Privileged roles are not offered in the invitation form at all.
    for label in ("Programme admin", "Safeguarding officer"):
        assert page.locator("#invite-form").get_by_label(label, exact=True).count() == 0, label


def invite(page: Any, email: str, name: str, roles: list[str]) -> str:
    """Fill the form as a person would: tick the wanted roles, touch nothing else."""
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Name", exact=True).fill(name)
    for role in roles:
        page.get_by_label(ROLE_LABELS[role], exact=True).check()
    page.get_by_role("button", name="Create the invitation").click()
    page.locator("#invitation-link").wait_for()
    expect(page.locator("#invitation-link")).not_to_have_text("")
    page.locator("#users").get_by_text(email).wait_for()
    return str(page.inner_text("#invitation-link"))


def roles_of(page: Any) -> dict[str, list[str]]:
    """Every account's roles as the gateway has them (the admin's own session, same origin)."""
    users = page.evaluate("async () => (await (await fetch('/admin/users')).json())"
                          ".map((u) => [u.email, u.roles])")
    return {email: sorted(roles) for email, roles in users}


def test_three_invitations_in_a_row_grant_exactly_the_roles_chosen(stack: RunningStack, browser: Browser) -> None:
    base = stack.url
    ada_secret = accept(base, stack.bootstrap_admin("ada@example.org", "Ada Admin"))
    bob_secret = accept(base, stack.bootstrap_admin("bob@example.org", "Bob Admin", force=True))
    assert ada_secret and bob_secret

    page = browser.page(base)
    page.goto("/")
    page.get_by_label("E-mail address").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    code, signed_in_step = totp_now(ada_secret)
    page.get_by_label("Authenticator code (if you have one)").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Hello, Ada Admin").wait_for()

    page.goto("/#/admin/users")
    page.get_by_role("heading", name="People", exact=True).wait_for()
    links = {"max@example.org": invite(page, "max@example.org", "Max Mentor", ["mentor"])}
    links["mia@example.org"] = invite(page, "mia@example.org", "Mia Mentee", ["mentee"])
    roles = roles_of(page)
    assert {"max": roles["max@example.org"], "mia": roles["mia@example.org"]} == {"max": ["mentor"], "mia": ["mentee"]}
    form_is_blank(page)  # nothing left over from Mia, nothing preselected
    links["sam@example.org"] = invite(page, "sam@example.org", "Sam Safeguarding", [])
    form_is_blank(page)
    assert len(set(links.values())) == 3
    shot(page, "invitations-01-three-in-a-row")

    # The officer's role: its own step on Sam's page, confirmed, with Ada's next authenticator code.
    page.locator("#grant-next").click()
    page.get_by_role("heading", name="Sam Safeguarding").wait_for()
    page.get_by_label("Role to grant").select_option("safeguarding")
    # The code of the next 30 s step is already valid (±1 step) and later than the one used to sign in.
    page.get_by_label("Your authenticator code").fill(pyotp.TOTP(ada_secret).at((signed_in_step + 1) * 30))
    page.get_by_role("button", name="Grant the role").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Make Sam Safeguarding a safeguarding officer?")
    shot(page, "invitations-02-confirm-grant")
    dialog.get_by_role("button", name="Grant Safeguarding officer").click()
    page.locator("#privileged-roles").get_by_text("Safeguarding officer", exact=True).wait_for()
    shot(page, "invitations-03-granted")
    assert not page.js_errors, page.js_errors

    roles = roles_of(page)
    assert {email: roles[email] for email in links} == {
        "max@example.org": ["mentor"], "mia@example.org": ["mentee"], "sam@example.org": ["safeguarding"]}
    assert roles["ada@example.org"] == ["admin"] and roles["bob@example.org"] == ["admin"]

    # The officer sets a password and must enrol a second factor; the other members need none.
    assert accept(base, links["sam@example.org"]) is not None
    assert accept(base, links["max@example.org"]) is None and accept(base, links["mia@example.org"]) is None

    # Every other admin is told in their inbox; the admin who granted it is not.
    bob = browser.page(base)
    bob.goto("/")
    bob.get_by_label("E-mail address").fill("bob@example.org")
    bob.get_by_label("Password", exact=True).fill(PASSWORD)
    bob.get_by_label("Authenticator code (if you have one)").fill(totp_now(bob_secret)[0])
    bob.get_by_role("button", name="Sign in").click()
    bob.get_by_role("heading", name="Hello, Bob Admin").wait_for()
    bob.goto("/#/notices")
    bob.locator(".notices").get_by_text("An admin made someone a safeguarding officer.").wait_for()
    shot(bob, "invitations-04-other-admin-told")
    assert not bob.js_errors, bob.js_errors
    page.goto("/#/notices")
    page.get_by_text("No notices. You are all caught up.").wait_for()
