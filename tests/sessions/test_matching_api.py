"""Profiles, the questionnaire, preferences, suggestions and rounds through the HTTP API (issue 17,
items 1 and 2), on real databases and Redis."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from services.sessions.matching.tables import rounds
from services.sessions.questionnaire.tables import answers
from tests.support.matching import QUESTIONS, answer, ok, programme, stored_rows, stream_bytes
from tests.support.sessions import ADMIN, MENTEE, MENTOR, OTHER_MENTEE, OTHER_MENTOR, UNVETTED, Api

pytestmark = pytest.mark.integration


async def test_profiles_mentors_publish_and_mentees_browse(api: Api) -> None:
    no_capacity = await api.req("PUT", "/profiles/me", MENTOR, json={"bio": "x"})
    assert no_capacity.status_code == 422 and no_capacity.json()["type"].endswith("capacity-required")
    mentee_capacity = await api.req("PUT", "/profiles/me", MENTEE, json={"capacity": 2})
    assert mentee_capacity.status_code == 422
    assert (await api.req("PUT", "/profiles/me", MENTOR, json={"capacity": 11})).status_code == 400
    assert (await api.req("PUT", "/profiles/me", MENTOR, json={"capacity": 1, "languages": ["English"]})
            ).status_code == 400
    await programme(api)
    mine = await ok(await api.req("GET", "/profiles/me", MENTOR))
    assert mine["capacity"] == 1 and mine["languages"] == ["en"] and mine["bio"] == f"Biography of {MENTOR}"
    cards = await ok(await api.req("GET", "/profiles/mentors", MENTEE))
    # The unvetted mentor's profile exists but is not offered.
    assert [c["user_id"] for c in cards] == sorted([MENTOR, OTHER_MENTOR])
    assert all(c["has_room"] for c in cards) and "capacity" not in cards[0]
    assert (await ok(await api.req("GET", f"/profiles/{MENTEE}", ADMIN)))["areas"] == ["midwifery"]


async def test_questionnaire_versions_and_answer_validation(api: Api) -> None:
    assert (await ok(await api.req("GET", "/questionnaire", MENTEE)))["version"] == 0
    assert (await answer(api, MENTEE, {})).status_code == 409  # nothing published yet
    dup = [QUESTIONS[0], QUESTIONS[0]]
    assert (await api.req("PUT", "/questionnaire", ADMIN, json={"questions": dup})).status_code == 422
    weighted_text = [{**QUESTIONS[2], "weight": 1.0}]
    assert (await api.req("PUT", "/questionnaire", ADMIN, json={"questions": weighted_text})).status_code == 422
    one_option = [{**QUESTIONS[0], "options": QUESTIONS[0]["options"][:1]}]
    assert (await api.req("PUT", "/questionnaire", ADMIN, json={"questions": one_option})).status_code == 422
    first = await ok(await api.req("PUT", "/questionnaire", ADMIN, json={"questions": QUESTIONS}))
    assert first["version"] == 1
    assert (await answer(api, MENTEE, {"specialty": "dentistry"})).status_code == 422
    assert (await answer(api, MENTEE, {"nope": "x"})).status_code == 422
    assert (await answer(api, MENTEE, {"identity": ["black", "black"]}, consent=True)).status_code == 422
    saved = await ok(await answer(api, MENTEE, {"specialty": "surgery"}))
    assert saved["version"] == 1 and saved["answers"] == {"specialty": "surgery"}
    await ok(await api.req("PUT", "/questionnaire", ADMIN, json={"questions": QUESTIONS[:1]}))
    stale = await api.req("PUT", "/questionnaire/answers/me", MENTEE,
                          json={"version": 1, "answers": {"specialty": "midwifery"}})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    kept = await ok(await api.req("GET", "/questionnaire/answers/me", MENTEE))
    assert kept["version"] == 1 and kept["current_version"] == 2 and kept["answers"] == {"specialty": "surgery"}


async def test_special_answers_need_consent_are_sealed_and_shredded_on_withdrawal(
        api: Api, redis: Redis, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    canary = "SPECIAL-ANSWER-CANARY-7f3a"
    await ok(await api.req("PUT", "/questionnaire", ADMIN, json={"questions": QUESTIONS}))
    with caplog.at_level(logging.INFO):
        refused = await answer(api, MENTEE, {"identity": ["indigenous"], "hopes": canary})
        assert refused.status_code == 422 and refused.json()["type"].endswith("special-consent-required")
        given = {"specialty": "midwifery", "identity": ["indigenous"], "hopes": canary}
        saved = await ok(await answer(api, MENTEE, given, consent=True))
        assert saved["answers"] == given and saved["special_consent"]
        # Admins who match read them (audited); the member reads their own.
        assert (await ok(await api.req("GET", f"/questionnaire/answers/{MENTEE}", ADMIN)))["answers"] == given
        assert (await ok(await api.req("GET", "/questionnaire/answers/me", MENTEE)))["answers"] == given
        (row,) = await stored_rows(api.client.app.state.settings, answers)
        for column in (row.sealed, row.special_sealed):
            assert canary.encode() not in column and b"indigenous" not in column
        assert row.special_sealed is not None
        withdrawn = await ok(await api.req("DELETE", "/questionnaire/answers/me/special", MENTEE))
        assert withdrawn["answers"] == {"specialty": "midwifery"} and not withdrawn["special_consent"]
    (row,) = await stored_rows(api.client.app.state.settings, answers)
    assert row.special_kek_version is None and row.special_wrapped_dek is None and row.special_sealed is None
    out = capsys.readouterr()
    assert canary not in caplog.text + out.out + out.err
    assert canary.encode() not in await stream_bytes(redis) and b"indigenous" not in await stream_bytes(redis)


async def test_preferences_up_to_three_among_the_mentors_offered(api: Api) -> None:
    await programme(api)
    assert (await ok(await api.req("GET", "/matching/preferences/me", MENTEE)))["waiting"] is False
    for bad, status in (({"choices": [MENTOR, MENTOR]}, 400), ({"choices": [MENTOR], "match_me": True}, 400),
                        ({"choices": [UNVETTED]}, 422), ({"choices": ["u-nobody"]}, 422),
                        ({"choices": ["a", "b", "c", "d"]}, 400)):
        assert (await api.req("PUT", "/matching/preferences/me", MENTEE, json=bad)).status_code == status, bad
    chosen = await ok(await api.req("PUT", "/matching/preferences/me", MENTEE,
                                    json={"choices": [OTHER_MENTOR, MENTOR]}))
    assert chosen["choices"] == [OTHER_MENTOR, MENTOR] and chosen["waiting"]
    assert (await ok(await api.req("GET", f"/matching/preferences/{MENTEE}", ADMIN)))["choices"] == chosen["choices"]
    assert [w["mentee_id"] for w in await ok(await api.req("GET", "/matching/waiting", ADMIN))] == [MENTEE]


async def test_suggestions_explain_the_ranking_and_the_exclusions(api: Api) -> None:
    await programme(api)
    await ok(await api.req("PUT", "/matching/preferences/me", MENTEE, json={"choices": [OTHER_MENTOR]}))
    got = await ok(await api.req("GET", f"/matching/suggestions/{MENTEE}", ADMIN))
    ranked = [(s["mentor_id"], round(s["total"], 6)) for s in got["suggestions"]]
    # MENTOR: same field (2.0), language (0.5), areas (0.5) = 3.0; OTHER_MENTOR: 1st choice (1.0) only.
    assert ranked == [(MENTOR, 3.0), (OTHER_MENTOR, 1.0)]
    parts = {p["name"]: p["contribution"] for p in got["suggestions"][1]["parts"]}
    assert parts["preference: 1st choice"] == 1.0 and parts["question: specialty"] == 0.0
    assert {e["mentor_id"]: e["reason"] for e in got["excluded"]} == {UNVETTED: "mentor unavailable: not vetted"}
    await ok(await api.req("POST", "/matching/conflicts", MENTEE, json={"mentor_id": MENTOR}), 201)
    got = await ok(await api.req("GET", f"/matching/suggestions/{MENTEE}", ADMIN))
    assert [s["mentor_id"] for s in got["suggestions"]] == [OTHER_MENTOR]
    assert {e["mentor_id"]: e["reason"] for e in got["excluded"]}[MENTOR] == "declared conflict of interest"
    assert len(await ok(await api.req("GET", "/matching/conflicts", MENTEE))) == 1
    assert await ok(await api.req("GET", "/matching/conflicts", MENTOR)) == []  # not told who named them
    weights = await ok(await api.req("PUT", "/matching/weights", ADMIN,
                                     json={"preference": [5, 1, 0.5], "language": 0, "areas": 0}))
    assert weights["questions"] == {"identity": 1.0, "specialty": 2.0} and weights["preference"] == [5, 1, 0.5]
    assert (await api.req("GET", f"/matching/suggestions/{OTHER_MENTOR}", ADMIN)).status_code == 404


async def test_a_round_is_optimal_reviewed_sent_confirmed_and_declines_feed_the_next(api: Api) -> None:
    await programme(api)
    await ok(await api.req("PUT", "/matching/preferences/me", MENTEE, json={"match_me": True}))
    await ok(await api.req("PUT", "/matching/preferences/me", OTHER_MENTEE, json={"choices": [MENTOR]}))
    # Greedy would give MENTOR to OTHER_MENTEE (her 1st choice, 1.0) and leave MENTEE's better fit (3.0)
    # unused; the optimum gives each the mentor of their own field: 3.0 + 3.0 (language and areas shared).
    draft = await ok(await api.req("POST", "/matching/rounds", ADMIN), 201)
    pairs = {a["mentee_id"]: a["mentor_id"] for a in draft["assignments"]}
    assert pairs == {MENTEE: MENTOR, OTHER_MENTEE: OTHER_MENTOR} and draft["state"] == "draft"
    assert round(draft["total"], 6) == 6.0
    (row,) = await stored_rows(api.client.app.state.settings, rounds)
    assert MENTEE.encode() not in row.sealed and b"question" not in row.sealed
    sent = await ok(await api.req("POST", f"/matching/rounds/{draft['round_id']}/send", ADMIN,
                                  json={"skip": [OTHER_MENTEE]}))
    by_mentee = {a["mentee_id"]: a for a in sent["assignments"]}
    assert sent["state"] == "sent" and by_mentee[OTHER_MENTEE]["not_sent"] == "left out by the admin"
    pid = by_mentee[MENTEE]["pairing_id"]
    assert pid and (await api.req("POST", f"/matching/rounds/{draft['round_id']}/send", ADMIN,
                                  json={})).status_code == 409
    assert (await ok(await api.req("GET", f"/pairings/{pid}", MENTEE)))["state"] == "proposed"
    await ok(await api.req("POST", f"/pairings/{pid}/decline", MENTOR))
    # The decline feeds back: MENTEE waits again but never with MENTOR, so the only other place is worth
    # more to OTHER_MENTEE (same field, 3.0) than to MENTEE (nothing shared, 0): MENTEE waits.
    again = await ok(await api.req("POST", "/matching/rounds", ADMIN), 201)
    assert {a["mentee_id"]: a["mentor_id"] for a in again["assignments"]} == {OTHER_MENTEE: OTHER_MENTOR}
    assert [(u["mentee_id"], u["reason"]) for u in again["unmatched"]] == [
        (MENTEE, "every allowed mentor's places went to other mentees")]
    await ok(await api.req("POST", f"/matching/rounds/{again['round_id']}/discard", ADMIN))
    assert (await api.req("POST", f"/matching/rounds/{again['round_id']}/send", ADMIN, json={})).status_code == 409
    listed = await ok(await api.req("GET", "/matching/rounds", ADMIN))
    assert [r["state"] for r in listed] == ["sent", "discarded"]


async def test_sending_reports_a_pair_that_became_impossible_and_sends_the_rest(api: Api) -> None:
    await programme(api)
    await ok(await api.req("PUT", "/matching/preferences/me", MENTEE, json={"match_me": True}))
    await ok(await api.req("PUT", "/matching/preferences/me", OTHER_MENTEE, json={"match_me": True}))
    draft = await ok(await api.req("POST", "/matching/rounds", ADMIN), 201)
    # Meanwhile an admin proposes MENTEE with MENTOR by hand: the round's pair is now a duplicate.
    await ok(await api.req("POST", "/pairings", ADMIN, json={"mentor_id": MENTOR, "mentee_id": MENTEE}), 201)
    sent = await ok(await api.req("POST", f"/matching/rounds/{draft['round_id']}/send", ADMIN, json={}))
    by_mentee = {a["mentee_id"]: a for a in sent["assignments"]}
    assert by_mentee[MENTEE]["pairing_id"] is None and by_mentee[MENTEE]["not_sent"]
    assert by_mentee[OTHER_MENTEE]["pairing_id"]
