"""The admins' matching pages (issue 17) in headless Chromium against the whole stack: the admin publishes
a questionnaire in the browser (the server's 422 shown, ids made from the text), views the waiting mentees'
suggestions with the parts of each score and, on an explicit click, one mentee's answers; runs a round and
sends it; the mentees' pairings then exist as proposed.

Members (two vetted mentors with capacity, two mentees: one with a first choice, one "match me") write
their profiles, answers and preferences through the HTTP API. Screenshots: test-artifacts/webapp/ (60-63).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.webapp import Browser, RunningStack, chromium_missing, eventually, shot
from tests.support.webapp import check_page as check
from tests.support.webapp_world import World, add_member, closing_apis, first_admin, publish_agreement, vet

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")]

S = "/api/sessions"
MEMBERS = (("mentor1", "max@example.org", "Max Mentor", "mentor"),
           ("mentor2", "mo@example.org", "Mo Mentor", "mentor"),
           ("mentee1", "mia@example.org", "Mia Mentee", "mentee"),
           ("mentee2", "meg@example.org", "Meg Mentee", "mentee"))


@pytest.fixture(scope="module")
def world(stack: RunningStack, browser: Browser) -> Iterator[World]:
    w = World()
    with closing_apis():
        first_admin(w, stack, browser)
        agreement = publish_agreement(w.apis["admin"])
        for key, email, name, role in MEMBERS:
            add_member(w, stack, agreement, key, email, name, role)
        for key in ("mentor1", "mentor2"):
            vet(w.apis["admin"], w.ids[key])
            w.apis[key].call("PUT", f"{S}/profiles/me", {"bio": f"{key} bio", "areas": ["Emergency care"],
                                                          "languages": ["en"], "capacity": 1})
        yield w


def test_the_admin_publishes_a_questionnaire(world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.goto("/#/admin/questionnaire")
    page.get_by_role("heading", name="Questionnaire", exact=True).wait_for()
    expect(page.get_by_text("No questionnaire published yet.")).to_be_visible()
    page.get_by_role("button", name="Add a question").click()
    first = page.locator("#question-editor > li").nth(0)
    first.get_by_label("Question text").fill("Which area do you work in?")
    first.get_by_label("Weight in matching (0 to 10)").fill("3")
    first.get_by_label("Option 1", exact=True).fill("Emergency care")
    first.get_by_label("Option 2", exact=True).fill("Primary care")
    first.get_by_role("button", name="Add an option").click()
    first.get_by_label("Option 3", exact=True).fill("Mental health")
    page.get_by_role("button", name="Add a question").click()
    second = page.locator("#question-editor > li").nth(1)
    second.get_by_label("Question text").fill("What do you hope for?")
    second.get_by_label("Kind").select_option("text")
    expect(second.get_by_label("Weight in matching (0 to 10)")).to_have_count(0)
    # Two questions with the same id: the server refuses (422) and the page says why.
    for item in (first, second):
        item.get_by_label("Question id (optional)").fill("area")
    page.get_by_role("button", name="Publish new version").click()
    expect(page.locator("form .alert.error")).to_contain_text("Two questions have the same id.")
    second.get_by_label("Question id (optional)").fill("")
    # Reordered: the free-text question first, then back.
    second.get_by_role("button", name="Move up question 2").click()
    top = page.locator("#question-editor > li").nth(0)
    expect(top.get_by_label("Question text")).to_have_value("What do you hope for?")
    page.get_by_role("button", name="Move down question 1").click()
    shot(page, "60-admin-questionnaire-editor")
    check(page, axe, "admin-questionnaire-editor")
    page.get_by_role("button", name="Publish new version").click()
    expect(page.locator("#questionnaire-status")).to_contain_text("Version 1 published.")
    expect(page.locator("#current-questions > li")).to_have_count(2)
    published = world.apis["admin"].call("GET", f"{S}/questionnaire")
    area, hope = published["questions"]
    assert (area["id"], area["weight"], [o["id"] for o in area["options"]]) == (
        "area", 3.0, ["emergency_care", "primary_care", "mental_health"])
    assert (hope["id"], hope["kind"], hope["weight"]) == ("what_do_you_hope_for", "text", 0.0)
    check(page, axe, "admin-questionnaire-published")
    assert page.js_errors == []


def _members_answer_and_choose(world: World) -> None:
    version = world.apis["admin"].call("GET", f"{S}/questionnaire")["version"]
    for key, area in (("mentor1", "emergency_care"), ("mentor2", "primary_care"), ("mentee1", "emergency_care"),
                      ("mentee2", "primary_care")):
        world.apis[key].call("PUT", f"{S}/questionnaire/answers/me", {"version": version, "answers": {"area": area}})
    for key in ("mentee1", "mentee2"):
        world.apis[key].call("PUT", f"{S}/profiles/me", {"areas": ["Emergency care"], "languages": ["en"]})

    def choose() -> Any:
        resp = world.apis["mentee1"].http.put(f"{S}/matching/preferences/me", json={"choices": [world.ids["mentor1"]]})
        return resp.json() if resp.status_code == 200 else None

    eventually(choose, "the sessions service to learn of the mentors")
    world.apis["mentee2"].call("PUT", f"{S}/matching/preferences/me", {"match_me": True})

    def both_mentors_suggested() -> Any:
        s = world.apis["admin"].call("GET", f"{S}/matching/suggestions/{world.ids['mentee1']}")
        return s if len(s["suggestions"]) == 2 else None

    eventually(both_mentors_suggested, "both mentors to be vetted and agreed in the sessions service")


def test_the_admin_sees_suggestions_and_why(world: World, axe: str) -> None:
    _members_answer_and_choose(world)
    page = world.pages["admin"]
    page.goto("/#/admin/matching")
    page.get_by_role("heading", name="Matching", exact=True).wait_for()
    mia = page.locator("li.waiting-mentee", has_text="Mia Mentee")
    expect(mia).to_contain_text("1st choice: Max Mentor")
    expect(page.locator("li.waiting-mentee", has_text="Meg Mentee")).to_contain_text("Match me")
    mia.get_by_role("button", name="Suggestions for Mia Mentee").click()
    ranked = mia.locator("ol.suggestions > li")
    expect(ranked).to_have_count(2)
    expect(ranked.nth(0)).to_contain_text("Max Mentor")
    expect(ranked.nth(0).locator("table")).to_contain_text("preference: 1st")
    expect(ranked.nth(0).locator("table")).to_contain_text("question: Which area do you work in?")
    toggle = mia.get_by_role("button", name="Suggestions for Mia Mentee")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_text("Suggestions")
    expect(page.locator("#question-weights")).to_contain_text("Which area do you work in?: 3")
    mia.get_by_role("button", name="Show answers of Mia Mentee").click()
    answers = mia.locator(".answers-view")
    expect(answers).to_contain_text("Emergency care")
    expect(answers).to_contain_text("recorded in the audit log")
    shot(page, "61-admin-matching")
    check(page, axe, "admin-matching")
    weights = page.locator("#weights")
    weights.get_by_label("Shared areas").fill("1")
    weights.get_by_role("button", name="Save weights").click()
    expect(weights).to_contain_text("Weights saved.")
    assert world.apis["admin"].call("GET", f"{S}/matching/weights")["areas"] == 1.0
    assert page.js_errors == []


def test_a_round_is_run_and_sent(world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.get_by_role("button", name="Run a matching round").click()
    page.get_by_role("heading", name="Matching round").wait_for()
    pairs = page.locator("#pairs > li")
    expect(pairs).to_have_count(2)
    expect(page.locator("#pairs")).to_contain_text("Mia Mentee → Max Mentor")
    expect(page.locator("#pairs")).to_contain_text("Meg Mentee → Mo Mentor")
    for box in page.get_by_label("Propose this pair").all():
        expect(box).to_be_checked()
    pairs.nth(0).locator("summary").click()
    expect(pairs.nth(0).locator("table")).to_contain_text("Contribution")
    shot(page, "62-admin-round-draft")
    check(page, axe, "admin-round-draft")
    page.get_by_role("button", name="Send proposals").click()
    page.get_by_role("dialog").get_by_role("button", name="Send proposals").click()
    expect(page.locator("#round-state")).to_contain_text("Sent")
    expect(page.get_by_role("link", name="Open the pairing")).to_have_count(2)
    expect(page.get_by_role("button", name="Send proposals")).to_have_count(0)
    shot(page, "63-admin-round-sent")
    check(page, axe, "admin-round-sent")
    pairings = world.apis["admin"].call("GET", f"{S}/pairings/")
    got = {(p["mentee_id"], p["mentor_id"]): p["state"] for p in pairings}
    assert got == {(world.ids["mentee1"], world.ids["mentor1"]): "proposed",
                   (world.ids["mentee2"], world.ids["mentor2"]): "proposed"}, got
    links = page.get_by_role("link", name="Open the pairing").evaluate_all("els => els.map(e => e.hash)")
    assert sorted(links) == sorted(f"#/pairings/{p['pairing_id']}" for p in pairings)
    page.goto("/#/admin/matching")
    expect(page.locator("#rounds tbody tr")).to_have_count(1)
    expect(page.locator("#rounds")).to_contain_text("Sent")
    assert page.js_errors == []
