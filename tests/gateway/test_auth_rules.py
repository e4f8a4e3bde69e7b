"""The one set of rules that decides who a caller is (services/gateway/auth/rules.py), on its own: the
proxy and the gateway's own endpoints both go through it, behind the memory of checked credentials."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.gateway.auth import rules
from services.gateway.auth.caller import BrowserSession, Caller, CsrfFailed
from services.gateway.auth.rules import ENDPOINTS, PROXY
from services.gateway.auth.service import SCRIPT
from shared.http import Forbidden, Unauthorized


@dataclass(frozen=True)
class State:
    user_id: str
    roles: tuple[str, ...]
    valid_after: float
    active: bool = True


CLAIMS = {"sub": "u1", "aud": "http://gateway.test", "client_id": "app", "iat": 1000, "exp": 2000,
          "scope": "openid api", "sid": "s1", "jti": "j1"}


def session(created: float = 1000.0, seen: float = 1000.0) -> BrowserSession:
    return BrowserSession(key="k", user_id="u1", sid="s1", csrf="token", created=created, seen=seen,
                          auth_time=created, amr=["pwd"])


def test_the_script_is_handed_every_key_name() -> None:
    """Each store owns its Redis key names; the Lua script only uses what it is given."""
    assert "gw:" not in SCRIPT


def test_a_token_speaks_for_an_active_user_whose_sign_ins_did_not_end_after_it() -> None:
    caller = rules.token_caller(CLAIMS, revoked=False, state=State("u1", ("mentee",), 999.0), client_known=True)
    assert (caller.sub, caller.roles, caller.sid, caller.via) == ("u1", ("mentee",), "s1", "bearer")
    for revoked, state in ((True, State("u1", ("mentee",), 0.0)), (False, None),
                           (False, State("u1", ("mentee",), 0.0, active=False)),
                           (False, State("u1", ("mentee",), 1001.0))):
        with pytest.raises(Unauthorized):
            rules.token_caller(CLAIMS, revoked=revoked, state=state, client_known=True)


def test_a_service_token_needs_its_client_still_registered() -> None:
    claims = {**CLAIMS, "sub": "service:rec"}
    caller = rules.token_caller(claims, revoked=False, state=None, client_known=True)
    assert caller.roles == ("service",) and caller.user_id is None
    with pytest.raises(Unauthorized):
        rules.token_caller(claims, revoked=False, state=None, client_known=False)


def test_only_tokens_for_this_gateway_and_a_client_are_usable() -> None:
    assert rules.usable_claims(CLAIMS, "http://gateway.test") is CLAIMS
    for claims in (None, {**CLAIMS, "aud": "elsewhere"}, {k: v for k, v in CLAIMS.items() if k != "client_id"}):
        with pytest.raises(Unauthorized):
            rules.usable_claims(claims, "http://gateway.test")


def test_a_session_ends_with_its_timeouts_and_its_users_sign_ins() -> None:
    assert rules.session_alive(session(), 1000.0 + 30, idle_s=60, absolute_s=600)
    assert not rules.session_alive(session(), 1000.0 + 61, idle_s=60, absolute_s=600)
    assert not rules.session_alive(session(seen=1590.0), 1000.0 + 601, idle_s=60, absolute_s=600)
    caller = rules.session_caller(session(), State("u1", ("mentor",), 999.0))
    assert (caller.sub, caller.roles, caller.sid, caller.via) == ("u1", ("mentor",), "s1", "cookie")
    for state in (None, State("u1", ("mentor",), 0.0, active=False), State("u1", ("mentor",), 1001.0)):
        with pytest.raises(rules.SessionOver):
            rules.session_caller(session(), state)


def test_each_door_asks_its_own_of_every_request() -> None:
    browser = Caller(sub="u1", roles=(), sid="s1", via="cookie", session=session())
    assert rules.admit(browser, PROXY, {}, "GET") is browser
    assert rules.admit(browser, ENDPOINTS, {"x-csrf-token": "token"}, "POST") is browser
    with pytest.raises(CsrfFailed):
        rules.admit(browser, ENDPOINTS, {"x-csrf-token": "other"}, "POST")
    signin_only = Caller(sub="u1", roles=(), sid=None, via="bearer", scope="openid profile")
    assert rules.admit(signin_only, ENDPOINTS, {}, "POST") is signin_only
    with pytest.raises(Forbidden) as refused:
        rules.admit(signin_only, PROXY, {}, "GET")
    assert refused.value.headers and "insufficient_scope" in refused.value.headers["www-authenticate"]


def test_a_malformed_authorization_header() -> None:
    assert rules.bearer_token("Bearer abc ", PROXY) == "abc"
    assert rules.bearer_token("Basic abc", PROXY) is None  # the proxy answers: an invalid token
    with pytest.raises(Unauthorized) as told:
        rules.bearer_token("Basic abc", ENDPOINTS)
    assert told.value.headers and "invalid_request" in told.value.headers["www-authenticate"]
