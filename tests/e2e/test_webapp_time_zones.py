"""Time zones in the web app (issue 16 item 7), in headless Chromium against the whole stack: each person's
zone comes from their account, not from the browser (every page here runs in a browser set to a third zone,
Asia/Tokyo, locale en-US). A mentor in London schedules 10:00 London time, the API stores 10:00Z (December:
London is on GMT) and the mentee in Toronto sees 5:00 AM EST; a first sign-in stores the browser's zone,
once; the account page changes the zone and with it every time shown, and renews recovery codes; the
page's wall time → UTC conversion is checked at clock changes against Python's zoneinfo.

Setup (accounts, agreements, vetting, the pairing) goes through the HTTP API. Screenshots: 47-48.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
from playwright.sync_api import expect

from tests.support.webapp import (
    Api,
    Browser,
    RunningStack,
    chromium_missing,
    shot,
    signed_in_page,
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

BROWSER: dict[str, Any] = {"timezone_id": "Asia/Tokyo", "locale": "en-US"}  # neither person's zone
DASH = "\u2013"  # between the two times of a range (Intl's formatRange)
PEOPLE = (("mia@example.org", "Mia Mentee", "mentee", "America/Toronto"),
          ("max@example.org", "Max Mentor", "mentor", "Europe/London"),
          ("noa@example.org", "Noa Newcomer", "mentee", None))


@pytest.fixture(scope="module")
def world(stack: RunningStack, browser: Browser) -> Iterator[World]:
    w = World()
    with closing_apis():
        w.ids["admin-secret"] = first_admin(w, stack, browser, **BROWSER)
        admin = w.apis["admin"]
        agreement = publish_agreement(admin)
        for email, name, role, zone in PEOPLE:
            member = add_member(w, stack, agreement, email.split("@")[0], email, name, role)
            if zone:
                assert member.call("PUT", "/me/time-zone", {"time_zone": zone}) == {"time_zone": zone}
        vet(admin, w.ids["max"])
        w.ids["pairing"] = active_pairing(admin, w.ids["max"], w.ids["mia"], (w.apis["mia"], w.apis["max"]))
        w.pages["mentor"] = signed_in_page(browser, stack, "max@example.org", **BROWSER)
        w.pages["mentee"] = signed_in_page(browser, stack, "mia@example.org", **BROWSER)
        yield w


def plain(text: str) -> str:
    """Intl's narrow and thin spaces as plain ones."""
    return re.sub(r"\s+", " ", text)


def open_sessions(page: Any, pairing_id: str) -> None:
    """The pairing page with its sessions loaded (a pairing reaches the sessions list a moment after activation)."""
    page.goto(f"/#/pairings/{pairing_id}")
    page.get_by_role("heading", name="Sessions").wait_for()
    page.wait_for_load_state("networkidle")


def sessions_of(api: Api, pairing_id: str) -> list[dict[str, Any]]:
    return api.call("GET", f"/api/sessions/pairings/{pairing_id}/sessions")  # type: ignore[no-any-return]


def test_a_session_typed_in_london_time_is_shown_in_toronto_time(world: World, axe: str) -> None:
    pairing = world.ids["pairing"]
    day = date(datetime.now(UTC).year + 1, 12, 15)  # always ahead, always winter: GMT and EST
    mentor = world.pages["mentor"]
    sent: list[str] = []
    mentor.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST"
              and r.url.endswith(f"/pairings/{pairing}/sessions") else None)
    open_sessions(mentor, pairing)
    starts = mentor.get_by_label("Starts")
    expect(mentor.get_by_text("In your time zone, Europe/London")).to_be_visible()
    starts.fill(f"{day.isoformat()}T10:00")
    mentor.get_by_role("button", name="Schedule").click()
    listed = mentor.locator("#session-list > li", has_text="Dec 15")
    expect(listed).to_contain_text(f"10:00 {DASH} 11:00 AM GMT")
    check(mentor, axe, "pairing-schedule-form")
    # The page sent the instant, with its offset; the service stores 10:00Z.
    assert len(sent) == 1 and f'"starts_at":"{day.isoformat()}T10:00:00.000Z"' in sent[0], sent
    stored = [s for s in sessions_of(world.apis["max"], pairing) if s["starts_at"].startswith(day.isoformat())]
    assert len(stored) == 1
    assert datetime.fromisoformat(stored[0]["starts_at"]) == datetime(day.year, 12, 15, 10, tzinfo=UTC)
    assert datetime.fromisoformat(stored[0]["ends_at"]) == datetime(day.year, 12, 15, 11, tzinfo=UTC)

    # The mentee, in Toronto: 5:00 AM EST, the zone named; never the browser's Tokyo time (7:00 PM).
    mentee = world.pages["mentee"]
    open_sessions(mentee, pairing)
    row = mentee.locator("#session-list > li", has_text="Dec 15")
    expect(row).to_contain_text(f"Dec 15, {day.year}, 5:00 {DASH} 6:00 AM EST")
    assert "7:00 PM" not in plain(row.inner_text()) and "GMT+9" not in mentee.inner_text("main")
    shot(mentee, "47-pairing-in-your-time-zone")
    check(mentee, axe, "pairing-toronto")
    mentee.goto("/#/")
    upcoming = mentee.locator("section", has=mentee.get_by_role("heading", name="Upcoming sessions"))
    expect(upcoming).to_contain_text(f"Dec 15, {day.year}, 5:00 {DASH} 6:00 AM EST")


def test_a_first_sign_in_stores_the_browsers_time_zone_once(world: World, browser: Browser,
                                                            stack: RunningStack) -> None:
    noa = world.apis["noa"]
    assert noa.call("GET", "/me")["time_zone"] is None
    page = signed_in_page(browser, stack, "noa@example.org", **BROWSER)
    assert noa.call("GET", "/me")["time_zone"] == "Asia/Tokyo"
    page.context.close()
    # Signing in later from a browser elsewhere keeps the account's zone, and shows times in it.
    elsewhere = signed_in_page(browser, stack, "noa@example.org", timezone_id="America/Los_Angeles", locale="en-US")
    assert noa.call("GET", "/me")["time_zone"] == "Asia/Tokyo"
    elsewhere.get_by_role("navigation", name="Main").get_by_role("link", name="Your account").click()
    expect(elsewhere.get_by_label("Your time zone")).to_have_value("Asia/Tokyo")
    expect(elsewhere.locator("#time-zone-now")).to_contain_text("GMT+9")
    elsewhere.context.close()


def test_changing_the_zone_on_the_account_page_changes_the_times_shown(world: World, axe: str) -> None:
    pairing = world.ids["pairing"]
    day = date(datetime.now(UTC).year + 1, 12, 16)
    world.apis["mia"].call("POST", f"/api/sessions/pairings/{pairing}/sessions", {
        "starts_at": f"{day.isoformat()}T15:00:00Z", "ends_at": f"{day.isoformat()}T16:00:00+00:00", "agenda": None})
    page = world.pages["mentee"]
    open_sessions(page, pairing)
    expect(page.locator("#session-list > li", has_text="Dec 16")).to_contain_text(f"10:00 {DASH} 11:00 AM EST")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Your account").click()
    page.get_by_role("heading", name="Your account").wait_for()
    expect(nav.get_by_role("link", name="Your account")).to_have_attribute("aria-current", "page")
    zone = page.get_by_label("Your time zone")
    expect(zone).to_have_value("America/Toronto")
    assert page.get_by_role("heading", name="Authenticator app").count() == 0  # a mentee has none
    check(page, axe, "account-mentee")
    zone.select_option("Europe/Berlin")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.get_by_role("status")).to_contain_text("Times are now shown in Europe/Berlin.")
    expect(page.locator("#time-zone-now")).to_contain_text("GMT+1")
    assert world.apis["mia"].call("GET", "/me")["time_zone"] == "Europe/Berlin"
    open_sessions(page, pairing)
    expect(page.locator("#session-list > li", has_text="Dec 16")).to_contain_text(f"4:00 {DASH} 5:00 PM GMT+1")
    expect(page.get_by_text("In your time zone, Europe/Berlin")).to_be_visible()
    # Back to Toronto for the other tests.
    world.apis["mia"].call("PUT", "/me/time-zone", {"time_zone": "America/Toronto"})
    page.reload()
    expect(page.locator("#session-list > li", has_text="Dec 16")).to_contain_text(f"10:00 {DASH} 11:00 AM EST")


def test_choosing_french_on_the_account_page_changes_the_words_and_the_dates(world: World, axe: str) -> None:
    page = world.pages["mentee"]
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Your account").click()
    language = page.get_by_label("Your language")
    expect(language).to_have_value("en")  # the browser's (en-US) until chosen
    language.select_option("fr")
    page.get_by_role("button", name="Save language").click()
    expect(nav.get_by_role("link", name="Accueil")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert world.apis["mia"].call("GET", "/me")["language"] == "fr"
    check(page, axe, "account-mentee-fr")
    shot(page, "account-fr")
    open_sessions(page, world.ids["pairing"])
    expect(page.locator("#session-list > li").first).to_contain_text("déc.")  # dates in French
    page.reload()  # the choice is the account's, not the tab's
    expect(nav.get_by_role("link", name="Votre compte")).to_be_visible()
    world.apis["mia"].call("PUT", "/me/language", {"language": "en"})
    page.reload()
    expect(nav.get_by_role("link", name="Your account")).to_be_visible()


def test_the_account_page_renews_recovery_codes(world: World, axe: str) -> None:
    page = world.pages["admin"]
    page.goto("/#/account")
    page.get_by_role("heading", name="Your account").wait_for()
    state = page.locator("#second-factor-state")
    expect(state).to_have_text("Your authenticator app is set up. You have 10 unused recovery codes.")
    expect(page.get_by_label("Your time zone")).to_have_value("Asia/Tokyo")  # stored from the browser at sign-in
    shot(page, "48-account")
    check(page, axe, "account-admin")
    # A wrong code is refused; a fresh one (the next time step's: the sign-in spent the current one) works.
    renew = page.locator("form", has=page.get_by_role("button", name="New recovery codes"))
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="New recovery codes").click()
    expect(renew.get_by_role("alert")).to_have_text(re.compile(r"\w"))
    fresh = pyotp.TOTP(world.ids["admin-secret"]).at(int(time.time()) + 30)
    page.get_by_label("Code from your authenticator app").fill(fresh)
    page.get_by_role("button", name="New recovery codes").click()
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    assert page.locator("#recovery-codes li").count() == 10
    check(page, axe, "account-new-codes")
    page.get_by_label("I have saved these codes somewhere safe, away from my phone.").check()
    page.get_by_role("button", name="Back to your account").click()
    page.get_by_role("heading", name="Your account").wait_for()
    expect(state).to_contain_text("You have 10 unused recovery codes.")


def test_the_account_page_fits_a_phone(world: World, browser: Browser, stack: RunningStack) -> None:
    page = world.pages["mentee"]
    page.set_viewport_size({"width": 360, "height": 740})
    try:
        page.goto("/#/account")
        page.get_by_role("heading", name="Your account").wait_for()
        assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    finally:
        page.set_viewport_size({"width": 1200, "height": 900})


def test_the_pairing_page_in_french(world: World, axe: str) -> None:
    """The mentee in French: the pairing page's headings, its sessions and their dates; then English again."""
    page = world.pages["mentee"]
    world.apis["mia"].call("PUT", "/me/language", {"language": "fr"})
    try:
        page.goto(f"/#/pairings/{world.ids['pairing']}")
        page.reload()
        page.get_by_role("heading", name="Sessions").wait_for()
        page.wait_for_load_state("networkidle")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Binôme avec")
        for heading in ("État", "Travailler ensemble", "Planifier une session", "Notes", "Enregistrements", "Litiges"):
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        first = page.locator("#session-list > li").first
        expect(first).to_contain_text("déc.")
        expect(first.get_by_role("button", name=re.compile(r"^Annuler la session du "))).to_be_visible()
        expect(page.get_by_label("Durée en minutes")).to_be_visible()
        check(page, axe, "pairing-mentee-fr")
        shot(page, "pairing-fr")
    finally:
        world.apis["mia"].call("PUT", "/me/language", {"language": "en"})
        page.reload()
    page.get_by_role("heading", name="Schedule a session").wait_for()

def _transitions(zone: str, year: int) -> list[datetime]:
    """The instants (UTC) in `year` where `zone`'s offset changes, found hour by hour then minute by minute."""
    tz = ZoneInfo(zone)
    out = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    while t.year == year:
        nxt = t + timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            m = t
            while m.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                m += timedelta(minutes=1)
            out.append(m)
        t = nxt
    return out


# North and south, whole and half hours, and a zone without summer time.
ZONES = ["Europe/London", "America/Toronto", "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago",
         "Pacific/Chatham", "Asia/Kolkata"]


def test_wall_times_become_the_right_instant_at_clock_changes(world: World) -> None:
    """The page's zonedToUtc against Python's zoneinfo with fold=0, the same rule: a wall time in a gap is
    moved on by the gap, one in an overlap is the first of the two."""
    cases: list[tuple[str, str, str]] = []
    for zone in ZONES:
        tz = ZoneInfo(zone)
        around = [datetime(2026, 1, 15, 10, tzinfo=UTC), datetime(2026, 7, 15, 10, tzinfo=UTC)]
        for change in _transitions(zone, 2026):
            around += [change + timedelta(minutes=m) for m in (-90, -60, -31, -30, -1, 0, 1, 15, 29, 30, 59, 60, 90)]
        for instant in around:
            for shift in (timedelta(0), timedelta(minutes=-30), timedelta(minutes=30)):
                wall = (instant.astimezone(tz) + shift).replace(tzinfo=None)  # also walls inside gaps
                expected = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
                cases.append((zone, wall.strftime("%Y-%m-%dT%H:%M"), expected.strftime("%Y-%m-%dT%H:%M:%S.000Z")))
    # The documented examples, by hand.
    cases += [("Europe/London", "2026-03-29T01:30", "2026-03-29T01:30:00.000Z"),  # skipped: shown as 02:30 BST
              ("Europe/London", "2026-10-25T01:30", "2026-10-25T00:30:00.000Z"),  # twice: the first, BST
              ("Europe/London", "2026-12-07T10:00", "2026-12-07T10:00:00.000Z"),
              ("America/Toronto", "2026-03-08T02:30", "2026-03-08T07:30:00.000Z"),
              ("America/Toronto", "2026-11-01T01:30", "2026-11-01T05:30:00.000Z"),
              ("Australia/Lord_Howe", "2026-10-04T02:15", "2026-10-03T15:45:00.000Z")]
    page = world.pages["mentee"]
    got = page.evaluate("""async (cases) => {
        const dom = await import('/web/js/dom.js');
        return cases.map(([zone, wall]) => { const d = dom.zonedToUtc(wall, zone); return d && d.toISOString(); });
    }""", cases)
    wrong = [(c, g) for c, g in zip(cases, got, strict=True) if c[2] != g]
    assert not wrong, wrong[:10]
    assert len(cases) > 400
    # Not a wall time: null, not a guess. A normal wall time goes round the trip unchanged.
    checks = page.evaluate("""async () => {
        const dom = await import('/web/js/dom.js');
        const back = dom.wallInput(dom.zonedToUtc('2026-06-30T23:45', 'Asia/Kolkata'), 'Asia/Kolkata');
        const utc = (text) => dom.zonedToUtc(text, 'UTC');
        return [utc(''), utc('2026-13-01T10:00'), utc('soon'), back];
    }""")
    assert checks == [None, None, None, "2026-06-30T23:45"]
