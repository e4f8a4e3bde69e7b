"""The admins' programme pages in headless Chromium against the whole stack (issue 17): check-ins turned on
and planned for a mentee, whose uncomfortable answer needs attention until the admin reads and acknowledges
it; a survey published, its results suppressed below 5 responses and downloadable as CSV by a plain link;
the agreement template edited and published.

Set-up and the mentee's answer go through the HTTP API; the admin's pages are driven in the browser.
Screenshots land in test-artifacts/webapp/ (programme-*).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.webapp import Browser, RunningStack, chromium_missing, eventually, shot
from tests.support.webapp import check_page as check
from tests.support.webapp_world import World, add_member, closing_apis, first_admin, publish_agreement

pytestmark = [pytest.mark.integration, pytest.mark.browser,
              pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")]

COMMENT = "I felt out of my depth on the last ward round."


@pytest.fixture(scope="module")
def world(stack: RunningStack, browser: Browser) -> Iterator[World]:
    w = World()
    with closing_apis():
        first_admin(w, stack, browser)
        agreement = publish_agreement(w.apis["admin"])
        add_member(w, stack, agreement, "mentee", "mia@example.org", "Mia Mentee", "mentee")
        yield w


def _plan_row(page: Any) -> Any:
    return page.locator("#checkin-plans tr[data-user]", has_text="Mia Mentee")


def test_checkins_are_turned_on_planned_and_an_answer_acknowledged(world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.goto("/#/admin/checkins")
    page.get_by_role("heading", name="Check-ins", exact=True).wait_for()
    page.get_by_text("Answers are seen by programme admins only.").wait_for()
    assert page.locator("#plan-form").count() == 0, "no plan form while check-ins are off"
    page.get_by_label("Check in with members of this programme").check()
    page.get_by_label("Default cadence (weeks)").fill("2")
    page.get_by_role("button", name="Save the setting").click()
    form = page.locator("#plan-form")
    form.wait_for()
    assert world.apis["admin"].call("GET", "/api/sessions/checkins/settings")["enabled"] is True

    def planned() -> bool:
        # The sessions service learns of the new mentee by an event: until then it refuses the plan (422).
        if _plan_row(page).count():
            return True
        form.get_by_label("Member").select_option(label="Mia Mentee (mentee)")
        form.get_by_label("Every how many weeks").fill("2")
        form.get_by_role("button", name="Plan check-ins").click()
        page.locator("#checkin-plans").or_(form.locator(".alert.error p")).first.wait_for()
        return bool(_plan_row(page).count())

    eventually(planned, "the plan for Mia")
    row = _plan_row(page)
    assert "Every 2 weeks" in row.inner_text()

    world.apis["mentee"].call("POST", "/api/sessions/checkins/me", {
        "progressing": "partly", "uncomfortable": True, "wants_contact": True, "comment": COMMENT})
    page.reload()
    row = _plan_row(page)
    row.get_by_text("Needs attention").wait_for()
    assert "Not yet" not in row.inner_text(), "the answer counts as the last answered"
    row.get_by_role("button", name="Answers").click()
    answer = page.locator(".checkin-answer")
    answer.get_by_text(COMMENT).wait_for()
    assert "Partly" in answer.inner_text()
    shot(page, "programme-checkins")
    check(page, axe, "admin-checkins")
    answer.get_by_role("button", name="Acknowledge").click()
    expect(_plan_row(page).get_by_text("Needs attention")).to_have_count(0)
    answers = world.apis["admin"].call("GET", f"/api/sessions/checkins/answers/{world.ids['mentee']}")
    assert answers[0]["acknowledged_by"] == world.apis["admin"].user_id  # type: ignore[attr-defined]


def test_a_survey_is_published_and_small_groups_are_suppressed(world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.goto("/#/admin/survey")
    page.get_by_role("heading", name="Evaluation survey").wait_for()
    page.get_by_text("No survey has been published yet.").wait_for()
    form = page.locator("#survey-form")
    form.get_by_label("Question", exact=True).fill("How useful were your sessions?")
    form.get_by_role("button", name="Add a question").click()
    second = form.locator("#survey-questions > li").nth(1)
    second.get_by_label("Question", exact=True).fill("Would you recommend the programme?")
    second.get_by_label("Kind of answer").select_option("single")
    second.get_by_label("Choices, one a line").fill("Yes\nNot sure\nNo")
    form.get_by_role("button", name="Publish this version").click()
    page.get_by_text("Version 1, published").wait_for()
    survey = world.apis["admin"].call("GET", "/api/sessions/evaluation/survey")
    assert [q["id"] for q in survey["questions"]] == ["how_useful_were_your_sessions",
                                                      "would_you_recommend_the_programm"]  # 32 at most
    assert [o["id"] for o in survey["questions"][1]["options"]] == ["yes", "not_sure", "no"]

    results = page.locator("#survey-results")
    results.locator(".result-group").first.wait_for()
    groups = results.locator(".result-group")
    assert groups.count() == 3  # everyone, mentors, mentees
    for i in range(3):
        assert groups.nth(i).locator(".suppressed").inner_text() == "Fewer than 5 responses: not shown."
    assert results.locator("table").count() == 0, "no counts for a suppressed group"
    # The CSV is a plain link: the session cookie is enough for a GET.
    href = results.locator("#results-csv").get_attribute("href")
    assert href == "/api/sessions/evaluation/results.csv?version=1&by=role"
    csv = page.request.get(href)
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    shot(page, "programme-survey")
    check(page, axe, "admin-survey")


def test_the_agreement_template_is_edited_and_published(world: World, axe: str) -> None:
    page = world.pages["admin"]
    before = world.apis["admin"].call("GET", "/api/sessions/agreement-template")
    page.goto("/#/admin/agreement-template")
    page.get_by_role("heading", name="Agreement template").wait_for()
    page.get_by_text("keep the template version they were written under").wait_for()
    form = page.locator("#template-form")
    sections = form.locator("#template-sections > li")
    assert sections.count() == len(before["sections"])
    sections.first.get_by_label("Title").fill("What we hope to achieve")
    form.get_by_role("button", name="Add a section").click()
    added = sections.nth(len(before["sections"]))
    added.get_by_label("Title").fill("Check-in rhythm")
    added.get_by_label("Guidance for the pair").fill("How often you meet, and how you let each other know.")
    added.get_by_role("button", name=f"Move section {len(before['sections']) + 1} up").click()
    shot(page, "programme-agreement-template-editing")
    form.get_by_role("button", name="Publish this template").click()
    page.locator("#template-version", has_text=f"Version {before['version'] + 1}, published").wait_for()
    after = world.apis["admin"].call("GET", "/api/sessions/agreement-template")
    keys = [s["key"] for s in after["sections"]]
    assert keys[-2] == "check_in_rhythm", keys
    assert keys[-1] == before["sections"][-1]["key"]
    assert after["sections"][0]["title"] == "What we hope to achieve"
    assert len(keys) == len(before["sections"]) + 1
    shot(page, "programme-agreement-template")
    check(page, axe, "admin-agreement-template")
