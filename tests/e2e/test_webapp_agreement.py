"""A pair's mentoring agreement, term and private reflections in the web app (issue 17), in headless Chromium
against the whole stack: the mentee writes the agreement and both accept it (each in their own page); the
mentor's change needs both again while the old version stays in force; the mentor proposes a longer term
and the mentee accepts it; the mentee's reflection is hers alone; at the pairing's end the agreement is gone.

Setup goes through the HTTP API; the pages under test are driven in the browser. Screenshots land in
test-artifacts/webapp/ (agreement-*).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.support.webapp import Browser, RunningStack, chromium_missing, shot, signed_in_page
from tests.support.webapp import check_page as check
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

MENTOR_ZONE = "America/Toronto"
Q = "\u2019"  # the pages' apostrophe


@pytest.fixture(scope="module")
def world(stack: RunningStack, browser: Browser) -> Iterator[World]:
    w = World()
    with closing_apis():
        first_admin(w, stack, browser)
        admin = w.apis["admin"]
        agreement = publish_agreement(admin)
        add_member(w, stack, agreement, "mentee", "mia@example.org", "Mia Mentee", "mentee")
        add_member(w, stack, agreement, "mentor", "max@example.org", "Max Mentor", "mentor")
        vet(admin, w.ids["mentor"])
        w.ids["pairing"] = active_pairing(admin, w.ids["mentor"], w.ids["mentee"],
                                          (w.apis["mentee"], w.apis["mentor"]))
        w.pages["mentee"] = signed_in_page(browser, stack, "mia@example.org", timezone_id="Europe/London")
        w.pages["mentor"] = signed_in_page(browser, stack, "max@example.org", timezone_id=MENTOR_ZONE)
        yield w


def open_agreement(page: Any, pairing_id: str) -> None:
    page.goto("/#/")  # by way of the home page, so the same address again renders afresh (no reload)
    page.get_by_role("heading", name="Hello", exact=False).wait_for()
    page.goto(f"/#/pairings/{pairing_id}/agreement")
    page.get_by_role("heading", name="Mentoring agreement", level=1).wait_for()
    page.locator("#agreement-state, #agreement-gone").first.wait_for()


def state(page: Any) -> Any:
    return page.locator("#agreement-state")


def test_the_mentee_writes_the_agreement_and_both_accept_it(world: World, axe: str) -> None:
    pairing = world.ids["pairing"]
    mentee, mentor = world.pages["mentee"], world.pages["mentor"]
    open_agreement(mentee, pairing)
    expect(mentee.get_by_text("Only the two of you can see this agreement", exact=False)).to_be_visible()
    assert mentee.locator("#accept-agreement").count() == 0  # nothing to accept before a first version
    mentee.get_by_label("How often and how we meet").fill("Every other week, an hour, by video call.")
    mentee.get_by_label("What the mentoring covers").fill("Leading a ward team; applying for a consultant post.")
    mentee.get_by_role("button", name="Save a new version").click()
    expect(state(mentee)).to_contain_text("Version 1")
    expect(state(mentee)).to_contain_text(f"waiting for your acceptance and Max Mentor{Q}s")
    mentee.get_by_role("button", name="Accept version 1").click()
    expect(state(mentee)).to_contain_text(f"waiting for Max Mentor{Q}s acceptance")
    expect(mentee.locator("#accept-agreement")).to_have_count(0)

    open_agreement(mentor, pairing)
    expect(mentor.get_by_label("How often and how we meet")).to_have_value("Every other week, an hour, by video call.")
    expect(state(mentor)).to_contain_text("Version 1")
    expect(state(mentor)).to_contain_text("is waiting for your acceptance.")
    mentor.get_by_role("button", name="Accept version 1").click()
    expect(state(mentor)).to_contain_text("In force: version 1")
    expect(state(mentor)).to_contain_text("accepted by you both")
    expect(mentor.locator("#accept-agreement")).to_have_count(0)
    shot(mentor, "agreement-in-force")
    check(mentor, axe, "agreement-in-force")


def test_a_change_needs_both_again_and_the_old_version_stays_in_force(world: World, axe: str) -> None:
    pairing = world.ids["pairing"]
    mentee, mentor = world.pages["mentee"], world.pages["mentor"]
    mentor.get_by_label("Contact between sessions").fill("By e-mail; replies within two working days.")
    mentor.get_by_role("button", name="Save a new version").click()
    expect(state(mentor)).to_contain_text("Version 2")
    expect(state(mentor)).to_contain_text("In force: version 1")
    expect(state(mentor)).to_contain_text("Until then, version 1 stays in force.")
    mentor.get_by_role("button", name="Accept version 2").click()  # writing it was no acceptance
    expect(state(mentor)).to_contain_text(f"waiting for Mia Mentee{Q}s acceptance")
    expect(mentor.locator("#accept-agreement")).to_have_count(0)

    open_agreement(mentee, pairing)
    expect(state(mentee)).to_contain_text("In force: version 1")
    expect(state(mentee)).to_contain_text("Version 2")
    expect(mentee.get_by_label("Contact between sessions")).to_have_value("By e-mail; replies within two working days.")
    mentee.get_by_role("button", name="Accept version 2").click()
    expect(state(mentee)).to_contain_text("In force: version 2")
    versions = mentee.locator("#agreement-versions > li")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("Version 2: by Max Mentor")
    expect(versions.nth(0)).to_contain_text("accepted by Max Mentor and you")
    expect(versions.nth(1)).to_contain_text("Version 1: by you")
    versions.nth(1).locator("summary").click()
    expect(versions.nth(1)).to_contain_text("Leading a ward team")
    shot(mentee, "agreement-history")
    check(mentee, axe, "agreement-history")


def term_end(world: World) -> datetime:
    p = world.apis["mentor"].call("GET", f"/api/sessions/pairings/{world.ids['pairing']}")
    return datetime.fromisoformat(p["term_ends_at"])


def test_the_mentor_proposes_a_longer_term_and_the_mentee_accepts_it(world: World, axe: str) -> None:
    pairing = world.ids["pairing"]
    mentee, mentor = world.pages["mentee"], world.pages["mentor"]
    ends = term_end(world)
    zone = ZoneInfo(MENTOR_ZONE)
    mentor.goto(f"/#/pairings/{pairing}")
    card = mentor.locator("#term")
    expect(card).to_contain_text(f"This pairing{Q}s term ends on")
    new_day = (ends.astimezone(zone) + timedelta(days=30)).date()
    card.get_by_label("New end date").fill(new_day.isoformat())
    card.get_by_role("button", name="Propose this end").click()
    expect(card).to_contain_text("You proposed to extend the term until")
    expect(card.get_by_role("button", name="Withdraw")).to_be_visible()
    expect(card).to_contain_text("Waiting for Mia Mentee")
    proposed = world.apis["mentor"].call("GET", f"/api/sessions/pairings/{pairing}")
    until = datetime.fromisoformat(proposed["extension_until"]).astimezone(zone)
    # The day chosen, at the same time of day as the current end, both in the mentor's zone.
    assert until.date() == new_day
    assert until.time().replace(microsecond=0) == ends.astimezone(zone).time().replace(microsecond=0)
    shot(mentor, "agreement-term-proposed")
    check(mentor, axe, "term-proposed")

    mentee.goto(f"/#/pairings/{pairing}")
    card = mentee.locator("#term")
    expect(card).to_contain_text("Max Mentor proposed to extend the term until")
    before = card.locator("#term-ends").inner_text()
    card.get_by_role("button", name="Accept the extension").click()
    expect(card.locator("#term-ends")).not_to_have_text(before)
    expect(card.get_by_label("New end date")).to_be_visible()  # nothing waits any more
    assert term_end(world) == datetime.fromisoformat(proposed["extension_until"])
    shot(mentee, "agreement-term-extended")


def test_the_reflection_is_the_authors_alone_and_the_agreement_ends_with_the_pairing(world: World, axe: str) -> None:
    pairing = world.ids["pairing"]
    mentee, mentor = world.pages["mentee"], world.pages["mentor"]
    mentee.goto(f"/#/pairings/{pairing}/reflection")
    mentee.get_by_role("heading", name="Your private reflection").wait_for()
    private = f"Only you can read this. Your mentor and the programme{Q}s admins cannot."
    expect(mentee.get_by_text(private)).to_be_visible()
    mentee.get_by_label("Your reflection").fill("I learnt to ask for help earlier.")
    mentee.get_by_role("button", name="Save").click()
    expect(mentee.locator("#reflection-status")).to_contain_text("Saved")
    shot(mentee, "agreement-reflection")
    check(mentee, axe, "reflection")
    # The mentor's call for the pairing's reflection answers only his own: none.
    theirs = world.apis["mentor"].call("GET", f"/api/sessions/pairings/{pairing}/reflection")
    assert theirs["text"] is None
    mentor.goto(f"/#/pairings/{pairing}/reflection")
    expect(mentor.get_by_text(f"Your mentee and the programme{Q}s admins cannot.", exact=False)).to_be_visible()
    expect(mentor.get_by_label("Your reflection")).to_have_value("")
    expect(mentor.locator("#delete-reflection")).to_have_count(0)
    mentee.get_by_role("button", name="Delete").click()
    mentee.get_by_role("dialog").get_by_role("button", name="Delete it").click()
    expect(mentee.locator("#reflection-status")).to_contain_text("deleted")
    assert world.apis["mentee"].call("GET", f"/api/sessions/pairings/{pairing}/reflection")["text"] is None

    world.apis["mentee"].call("POST", f"/api/sessions/pairings/{pairing}/end")
    open_agreement(mentor, pairing)
    gone = mentor.locator("#agreement-gone")
    expect(gone).to_contain_text("This pairing has ended; its agreement was deleted with it.")
    shot(mentor, "agreement-ended")
    check(mentor, axe, "agreement-gone")
