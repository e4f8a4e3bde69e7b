"""A member's programme pages in headless Chromium against the whole stack (issue 17): a mentor writes
their profile; a mentee answers the matching questionnaire with consent to the questions about identity,
withdraws it, and chooses mentors in order; once paired, the mentee answers a due check-in and the
programme's survey (once). An admin publishes the questionnaire and the survey and plans the check-in
through the API; what the server stored is checked through the API too. Screenshots: programme-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.webapp import Browser, RunningStack, chromium_missing, eventually, shot, signed_in_page
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

S = "/api/sessions"
QUESTIONS = [
    {"id": "style", "kind": "single", "prompt": "How would you like to meet?", "weight": 1,
     "options": [{"id": "video", "label": "By video"}, {"id": "phone", "label": "By phone"}]},
    {"id": "topics", "kind": "multiple", "prompt": "What would you like to work on?", "weight": 1,
     "options": [{"id": "career", "label": "Career"}, {"id": "research", "label": "Research"}]},
    {"id": "hopes", "kind": "text", "prompt": "What do you hope for?"},
    {"id": "gender", "kind": "single", "prompt": "Your gender", "special": True,
     "options": [{"id": "woman", "label": "Woman"}, {"id": "man", "label": "Man"},
                 {"id": "other", "label": "In another way"}]},
]
SURVEY = [
    {"id": "useful", "kind": "scale", "prompt": "How useful has the programme been?"},
    {"id": "again", "kind": "single", "prompt": "Would you take part again?",
     "options": [{"id": "yes", "label": "Yes, again"}, {"id": "no", "label": "Not again"}]},
]


@pytest.fixture(scope="module")
def world(stack: RunningStack, browser: Browser) -> Iterator[World]:
    w = World()
    with closing_apis():
        first_admin(w, stack, browser)
        admin = w.apis["admin"]
        agreement = publish_agreement(admin)
        add_member(w, stack, agreement, "mentee", "mia@example.org", "Mia Mentee", "mentee")
        add_member(w, stack, agreement, "mentor", "max@example.org", "Max Mentor", "mentor")
        add_member(w, stack, agreement, "mentor2", "meg@example.org", "Meg Mentor", "mentor")
        vet(admin, w.ids["mentor"])
        vet(admin, w.ids["mentor2"])
        w.apis["mentor2"].call("PUT", f"{S}/profiles/me", {"bio": "Surgeon.", "areas": ["surgery"],
                                                           "languages": ["en"], "capacity": 1})
        admin.call("PUT", f"{S}/questionnaire/", {"questions": QUESTIONS})
        admin.call("PUT", f"{S}/evaluation/survey", {"questions": SURVEY})
        admin.call("PUT", f"{S}/checkins/settings", {"enabled": True})
        w.pages["mentor"] = signed_in_page(browser, stack, "max@example.org")
        w.pages["mentee"] = signed_in_page(browser, stack, "mia@example.org")
        yield w


def test_a_mentor_writes_their_profile(world: World, axe: str) -> None:
    page = world.pages["mentor"]
    page.goto("/#/profile")
    page.get_by_role("heading", name="Your profile").wait_for()
    page.get_by_label("Biography").fill("Paediatric nurse for 20 years.")
    page.get_by_label("Areas").fill("paediatrics\nleadership")
    page.get_by_label("Languages").fill("en, fr-CA")
    page.get_by_label("How many mentees you can take at once").fill("2")
    page.get_by_role("button", name="Save your profile").click()
    expect(page.locator("#main").get_by_text("Your profile is saved.")).to_be_visible()
    page.get_by_text("Optional questions about your identity").wait_for()
    shot(page, "programme-profile-mentor")
    check(page, axe, "mentor profile")
    stored = world.apis["mentor"].call("GET", f"{S}/profiles/me")
    assert (stored["bio"], stored["areas"], stored["languages"], stored["capacity"]) == (
        "Paediatric nurse for 20 years.", ["paediatrics", "leadership"], ["en", "fr-CA"], 2)


def test_a_mentee_answers_the_questionnaire_withdraws_consent_and_chooses_mentors(world: World, axe: str) -> None:
    page, api = world.pages["mentee"], world.apis["mentee"]
    page.goto("/#/profile")
    page.get_by_role("heading", name="Matching questionnaire").wait_for()
    page.get_by_label("Areas").fill("research")
    page.get_by_role("button", name="Save your profile").click()
    expect(page.locator("#main").get_by_text("Your profile is saved.")).to_be_visible()
    page.get_by_label("By video").check()
    page.get_by_label("Research").check()
    page.get_by_label("What do you hope for?").fill("Confidence")
    page.get_by_label("Woman").check()
    page.get_by_role("button", name="Save your answers").click()
    expect(page.get_by_role("alert")).to_contain_text("explicit consent")  # the server's 422
    page.locator("#special-consent").check()
    page.get_by_role("button", name="Save your answers").click()
    expect(page.locator("#main").get_by_text("Your answers are saved.")).to_be_visible()
    expect(page.get_by_role("button", name="Withdraw consent and delete these answers")).to_be_visible()
    shot(page, "programme-questionnaire-mentee")
    check(page, axe, "mentee questionnaire")
    stored = api.call("GET", f"{S}/questionnaire/answers/me")
    assert stored["special_consent"] is True
    assert stored["answers"] == {"style": "video", "topics": ["research"], "hopes": "Confidence", "gender": "woman"}

    page.get_by_role("button", name="Withdraw consent and delete these answers").click()
    page.get_by_role("dialog").get_by_role("button", name="Withdraw and delete").click()
    expect(page.locator("#main").get_by_text("Your consent is withdrawn")).to_be_visible()
    expect(page.get_by_label("Woman")).not_to_be_checked()
    stored = api.call("GET", f"{S}/questionnaire/answers/me")
    assert stored["special_consent"] is False and "gender" not in stored["answers"]
    assert stored["answers"]["style"] == "video"

    # Both mentors are listed once the sessions service knows them vetted (events travel).
    eventually(lambda: len(api.call("GET", f"{S}/profiles/mentors")) == 2, "both mentors to be choosable")
    page.goto("/#/mentors")
    page.get_by_role("heading", name="Your preferences").wait_for()
    expect(page.locator("#mentor-list > li")).to_have_count(2)
    expect(page.locator("#preferences-state")).to_contain_text("not asked to be matched")
    page.get_by_label("1st choice").select_option(world.ids["mentor"])
    page.get_by_label("2nd choice").select_option(world.ids["mentor2"])
    page.get_by_role("button", name="Save your preferences").click()
    expect(page.locator("#main").get_by_text("Your preferences are saved.")).to_be_visible()
    expect(page.locator("#preferences-state")).to_contain_text("waiting for a match with your choices")
    shot(page, "programme-mentors")
    check(page, axe, "mentors")
    prefs = api.call("GET", f"{S}/matching/preferences/me")
    assert (prefs["choices"], prefs["match_me"], prefs["waiting"]) == (
        [world.ids["mentor"], world.ids["mentor2"]], False, True)


def test_once_paired_the_mentee_answers_the_due_checkin(world: World, axe: str) -> None:
    admin, api, page = world.apis["admin"], world.apis["mentee"], world.pages["mentee"]
    world.ids["pairing"] = active_pairing(admin, world.ids["mentor"], world.ids["mentee"],
                                          (api, world.apis["mentor"]))
    due = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    admin.call("POST", f"{S}/checkins/plans", {"user_id": world.ids["mentee"], "first_due_at": due, "every_weeks": 4})
    page.reload()  # still on #/mentors: read it again
    expect(page.locator("#preferences-state")).to_contain_text("not waiting")
    page.goto("/#/")  # the home page says a check-in is due, and leads to it
    page.locator("#programme-links").wait_for()
    page.get_by_role("link", name="A check-in is due: tell your programme how things are going.").click()
    form = page.locator("#checkin-form")
    form.wait_for()
    expect(page.locator("#raise-concern")).to_have_attribute("href", "/#/concern")
    expect(form).to_contain_text("never by your mentor or mentee")
    form.locator("fieldset", has_text="progressing").get_by_label("Partly").check()
    form.locator("fieldset", has_text="uncomfortable").get_by_label("No").check()
    form.get_by_label("I would like an admin to contact me").check()
    form.get_by_label("Anything you would like to add (optional)").fill("Slow start")
    shot(page, "programme-checkin-due")
    check(page, axe, "check-in due")
    page.get_by_role("button", name="Send your answer").click()
    expect(page.locator("#main .alert.success")).to_contain_text("Thank you, your answer is saved.")
    expect(page.locator("#next-checkin")).to_contain_text("Your next check-in is due on")
    expect(page.locator("#past-checkins li")).to_have_count(1)
    shot(page, "programme-checkin-answered")
    check(page, axe, "check-in answered")
    answers = api.call("GET", f"{S}/checkins/me/answers")
    assert [(a["progressing"], a["uncomfortable"], a["wants_contact"], a["comment"]) for a in answers] == [
        ("partly", False, True, "Slow start")]


def test_the_mentee_answers_the_survey_once(world: World, axe: str) -> None:
    page, api = world.pages["mentee"], world.apis["mentee"]
    page.goto("/#/survey")
    form = page.locator("#survey-form")
    form.wait_for()
    expect(form).to_contain_text("groups of five people or more")
    form.get_by_label("4", exact=True).check()
    form.get_by_label("Yes, again").check()
    shot(page, "programme-survey")
    check(page, axe, "survey")
    page.get_by_role("button", name="Send your answers").click()
    expect(page.locator("#main").get_by_text("Thank you: your answers are saved.")).to_be_visible()
    version = api.call("GET", f"{S}/evaluation/survey")["version"]
    again: Any = api.http.post(f"{S}/evaluation/responses", json={"version": version, "answers": {"useful": 1}})
    assert again.status_code == 409  # the server stored one answer for this member and version
    page.reload()  # the server now says this member answered: no form, the thanks
    expect(page.locator("#survey-done")).to_have_text("You have already answered this survey. Thank you.")
    assert page.locator("#survey-form").count() == 0
    check(page, axe, "survey answered")
