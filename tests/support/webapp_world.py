"""The cast the web app's browser tests share: the first admin (from the operator's `bootstrap-admin`)
signed in in a page, a programme agreement everyone accepts, members invited and signed in through the
API, a vetted mentor and an active pairing. Each module builds the world it needs from these, in its
own `world` fixture (tests/e2e/)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.support.webapp import Api, Browser, PageApi, RunningStack, accept_invitation, eventually, signed_in_page

VETTING = ("professional_verification", "references", "interview", "background_check")


@dataclass
class World:
    """What a module's ordered tests hand to each other: open pages, API clients and ids, by name."""

    pages: dict[str, Any] = field(default_factory=dict)
    apis: dict[str, Api] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def closing_apis() -> Iterator[None]:
    """Close every API client opened meanwhile (a module's `world` fixture wraps its set-up and tests)."""
    try:
        yield
    finally:
        while Api.opened:
            Api.opened.pop().close()


def first_admin(w: World, stack: RunningStack, browser: Browser, **page: Any) -> str:
    """Ada Admin from `bootstrap-admin`, her authenticator confirmed, signed in in `w.pages["admin"]` (with
    `page`: `Browser.page`'s options) and as that page's API in `w.apis["admin"]`. Returns her key."""
    secret = accept_invitation(stack.url, stack.bootstrap_admin("ada@example.org", "Ada Admin"))
    assert secret
    w.pages["admin"] = signed_in_page(browser, stack, "ada@example.org", (secret, None), **page)
    w.apis["admin"] = PageApi(w.pages["admin"], stack.url)
    return secret


def publish_agreement(admin: Api) -> str:
    """A code of practice, published and accepted by the admin; its id."""
    agreement = admin.call("POST", "/admin/agreements", {"kind": "code_of_practice", "title": "Code of practice",
                                                         "body": "Be kind."})
    admin.call("POST", f"/me/agreements/{agreement['id']}/accept")
    return str(agreement["id"])


def add_member(w: World, stack: RunningStack, agreement: str, key: str, email: str, name: str, role: str) -> Api:
    """Invite someone with one ordinary role, set their password and accept the agreement as them; their
    id is `w.ids[key]` and their API client `w.apis[key]`."""
    inv = w.apis["admin"].call("POST", "/admin/users", {"email": email, "display_name": name, "roles": [role]})
    w.ids[key] = inv["user_id"]
    accept_invitation(stack.url, inv["invitation_url"])
    api = w.apis[key] = Api(stack.url, email)
    api.call("POST", f"/me/agreements/{agreement}/accept")
    return api


def vet(admin: Api, mentor_id: str) -> None:
    """Every vetting check of the mentor passed."""
    for item in VETTING:
        admin.call("PUT", f"/admin/users/{mentor_id}/vetting/{item}", {"status": "passed"})


def active_pairing(admin: Api, mentor_id: str, mentee_id: str, members: Iterable[Api]) -> str:
    """Propose the pairing (once the sessions service has learnt the vetting and agreements, which travel
    as events) and accept it as both `members`; its id."""

    def propose() -> Any:
        resp = admin.http.post("/api/sessions/pairings/", json={"mentor_id": mentor_id, "mentee_id": mentee_id})
        return resp.json() if resp.status_code == 201 else None

    pairing_id = str(eventually(propose, "the sessions service to learn vetting and agreements")["pairing_id"])
    for member in members:
        member.call("POST", f"/api/sessions/pairings/{pairing_id}/accept")
    return pairing_id
