"""Every gateway endpoint that needs a caller, tried by every role (and nobody): 401 without
credentials, 403 for roles it does not allow, anything else for roles it does.

The matrix is checked against the app's own routes: every route whose handler takes the `caller`
dependency must be in the matrix, and every other one must be named in PUBLIC with the reason it needs no
caller. A new endpoint (PUT /me/time-zone and the second-factor ones were once added without a row
here, and nothing noticed) fails the walk until it gets one.

The proxied endpoint is answered by a real service behind this gateway (JWKS fetched from it), not by
whatever happens to listen at the default upstream address: with a developer's `make run` stack on port
8002, that service trusted another gateway's keys and the test failed when run on its own (issue #14
item 11). The matrix rotates the assertion key twice in a row (admin, then operator) after the service
has cached the JWKS: the service must follow both rotations at once, not refuse for its refresh limit.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from tests.support.assertion_apps import stack_of
from tests.support.databases import Databases
from tests.support.gateway import PASSWORD, Clock, Harness

pytestmark = pytest.mark.integration

ROLES = ["mentee", "mentor", "admin", "safeguarding", "operator", "service"]
ANY_USER = {"mentee", "mentor", "admin", "safeguarding", "operator"}
EVERYONE = ANY_USER | {"service"}
# A 403 an allowed role may get from the handler itself (a wrong step-up code), never from the role check.
HANDLER_403 = {"reauthentication-failed"}
ROLE_REFUSAL = "https://tandem.invalid/problems/forbidden"

# Routes without a `caller` dependency, and why none is needed.
PUBLIC = {
    ("GET", "/healthz"): "probe", ("GET", "/readyz"): "probe", ("GET", "/metrics"): "its own token",
    ("POST", "/auth/login"): "signs in", ("POST", "/auth/invitations/accept"): "the invitation token",
    ("GET", "/auth/session"): "its own 401 without a browser session (tried below)",
    ("POST", "/auth/second-factor/enrolment"): "e-mail and password in the body (tried below)",
    ("POST", "/auth/second-factor/confirmation"): "e-mail, password and code in the body (tried below)",
    ("GET", "/.well-known/openid-configuration"): "discovery",
    ("GET", "/.well-known/oauth-authorization-server"): "discovery", ("GET", "/oauth/jwks"): "public keys",
    ("GET", "/internal/assertion-jwks"): "public keys", ("GET", "/oauth/authorize"): "OAuth, own checks",
    ("POST", "/oauth/token"): "OAuth client auth", ("POST", "/oauth/revoke"): "OAuth client auth",
    ("POST", "/oauth/introspect"): "OAuth client auth", ("GET", "/oauth/userinfo"): "its own bearer check",
    ("POST", "/oauth/userinfo"): "its own bearer check", ("GET", "/oauth/logout"): "RP-initiated logout",
    ("POST", "/oauth/logout"): "RP-initiated logout", ("GET", "/auth/federated/start"): "signs in",
    ("GET", "/auth/federated/callback"): "signs in", ("GET", "/"): "web app page", ("GET", "/login"): "web app page",
    ("GET", "/invitation"): "web app page", ("GET", "/report"): "anonymous concerns page",
    ("GET", "/report/follow-up"): "anonymous concerns page", ("GET", "/favicon.ico"): "icon",
}


def _routes(app: Litestar) -> dict[tuple[str, str], bool]:
    """(method, path template) of the gateway's own routes -> whether the handler takes a caller. Leaves
    out OPTIONS, the OpenAPI schema and the web app's static files."""
    found: dict[tuple[str, str], bool] = {}
    for route in app.routes:
        if route.path.startswith(("/schema", "/web/")):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                found[(method, route.path)] = "caller" in inspect.signature(handler.fn).parameters
    return found


def _template(routes: dict[tuple[str, str], bool], method: str, path: str) -> tuple[str, str]:
    for key in routes:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", key[1])
        if key[0] == method and re.fullmatch(pattern, path):
            return key
    raise AssertionError(f"the matrix tries {method} {path}, which the gateway does not route")


async def test_authorization_matrix(tmp_path: Path, redis_url: str, gateway_db: Callable[..., str],
                                    database_url: Databases, clock: Clock) -> None:
    async with stack_of(tmp_path, redis_url, gateway_db, database_url, clock) as stack:
        await _matrix(stack.h)


async def _matrix(h: Harness) -> None:
    target = await h.make_user("target@example.org", ["mentor"])
    headers: dict[str, dict[str, str]] = {}
    for role in ROLES[:-1]:
        headers[role] = (await h.user(f"{role}@example.org", [role])).headers()
    client_id, secret = await h.gw.oauth_clients.create(name="svc", redirect_uris=[], post_logout_redirect_uris=[],
                                                        grant_types=["client_credentials"], scope=["api"],
                                                        confidential=True)
    token = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(client_id, secret or ""))).json()["access_token"]
    headers["service"] = {"authorization": f"Bearer {token}"}
    agreement = (await h.client.post("/admin/agreements", headers=headers["admin"],
                                     json={"kind": "confidentiality", "title": "C", "body": "Keep it private."})
                 ).json()["id"]
    # The service fetches the JWKS now, so the two rotations below happen within its refresh limit.
    assert (await h.client.get("/api/records/whoami", headers=headers["admin"])).status_code == 200
    new_user: dict[str, object] = {"email": "new@example.org", "display_name": "N", "roles": ["mentee"]}
    client = {"name": "c", "grant_types": ["client_credentials"], "scope": ["api"], "confidential": True}
    grant = {"role": "safeguarding", "confirm": True, "totp_code": "000000"}
    endpoints: list[tuple[str, str, dict[str, object] | None, set[str]]] = [
        ("GET", "/admin/users", None, {"admin"}),
        ("GET", f"/admin/users/{target}", None, {"admin"}),
        ("POST", "/admin/users", new_user, {"admin"}),
        ("PUT", f"/admin/users/{target}/roles", {"roles": ["mentor"]}, {"admin"}),
        ("POST", f"/admin/users/{target}/privileged-roles", grant, {"admin"}),  # admin: wrong code, 403 step-up
        ("POST", f"/admin/users/{target}/invitation", None, {"admin"}),
        ("POST", f"/admin/users/{target}/suspend", None, {"admin"}),
        ("POST", f"/admin/users/{target}/reactivate", None, {"admin"}),
        ("POST", "/admin/users/0123456789abcdef0123456789abcdef/erasure", None, {"admin"}),
        ("PUT", f"/admin/users/{target}/vetting/interview", {"status": "passed"}, {"admin"}),
        ("POST", "/admin/agreements", {"kind": "code_of_practice", "title": "x", "body": "y"}, {"admin"}),
        ("POST", "/admin/clients", client, {"admin", "operator"}),
        ("POST", "/admin/keys/assertion/rotate", None, {"admin", "operator"}),
        ("GET", "/agreements", None, EVERYONE),
        ("POST", f"/me/agreements/{agreement}/accept", None, ANY_USER),
        ("GET", "/me", None, ANY_USER),
        ("PUT", "/me/time-zone", {"time_zone": "Europe/London"}, ANY_USER),
        ("PUT", "/me/language", {"language": "fr"}, ANY_USER),
        ("GET", "/me/second-factor", None, ANY_USER),
        # admin, safeguarding: a wrong code (403 step-up); the others have no authenticator (409)
        ("POST", "/me/recovery-codes", {"totp_code": "000000"}, ANY_USER),
        ("GET", "/me/inbox", None, ANY_USER),
        ("POST", "/me/inbox/0123456789abcdef0123456789abcdef/read", None, ANY_USER),
        ("GET", "/me/people", None, ANY_USER),
        ("GET", "/api/records/whoami", None, EVERYONE),  # the proxy authenticates; services authorize
    ]
    _walk(h.app, [(m, p) for m, p, _, _ in endpoints if not p.startswith("/api/")]
          + [("POST", "/auth/logout"), ("POST", "/auth/logout-everywhere")])
    for method, path, body, allowed in endpoints:
        anonymous = await h.client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        for role in ROLES:
            r = await h.client.request(method, path, json=body, headers=headers[role])
            if role in allowed:
                _assert_allowed(r, method, path, role)
            else:
                assert r.status_code == 403, (method, path, role, r.status_code, r.text)
                assert r.json()["type"] == ROLE_REFUSAL, (method, path, role, r.text)
            if path.endswith("/suspend") and r.status_code == 200:
                await h.client.post(f"/admin/users/{target}/reactivate", headers=headers["admin"])
    await _without_caller(h, headers)
    for path in ("/auth/logout", "/auth/logout-everywhere"):
        assert (await h.client.post(path)).status_code == 401
    for role in ROLES[:-1]:
        assert (await h.client.post("/auth/logout", headers=headers[role])).status_code == 200
    assert (await h.client.post("/auth/logout-everywhere", headers=headers["service"])).status_code == 403


def _walk(app: Litestar, tried: list[tuple[str, str]]) -> None:
    routes = _routes(app)
    covered = {_template(routes, method, path) for method, path in tried}
    needs_caller = {key for key, caller in routes.items() if caller}
    assert needs_caller - covered == set(), "endpoints that need a caller but are not in the matrix"
    assert covered - needs_caller == set(), "in the matrix but take no caller: name them in PUBLIC"
    without = {key for key, caller in routes.items() if not caller}
    assert without - PUBLIC.keys() == set(), "routes without a caller: add to the matrix or to PUBLIC"
    assert PUBLIC.keys() - without == set(), "PUBLIC names routes the gateway no longer has (or that take a caller)"


def _assert_allowed(r: httpx.Response, method: str, path: str, role: str) -> None:
    assert r.status_code != 401 and r.status_code < 500, (method, path, role, r.status_code, r.text)
    if r.status_code == 403:  # only the handler's own refusal, never the role check's
        assert r.json()["type"].rsplit("/", 1)[-1] in HANDLER_403, (method, path, role, r.text)


async def _without_caller(h: Harness, headers: dict[str, dict[str, str]]) -> None:
    """The endpoints that decide from the body (or a browser session) answer the same whoever calls."""
    callers = {"anonymous": {}, **headers}
    _, token, _ = await h.gw.invitations.create_user("test", "pending@example.org", "P", ["safeguarding"])
    accepted = await h.client.post("/auth/invitations/accept", json={"token": token, "password": PASSWORD})
    assert accepted.status_code == 200, accepted.text
    pending = {"email": "pending@example.org", "password": PASSWORD}
    confirmed = {"email": "admin@example.org", "password": PASSWORD, "totp_code": "000000"}
    for who, sent in callers.items():
        # Resuming a pending enrolment: the key again, for any caller, with the account's password.
        r = await h.client.post("/auth/second-factor/enrolment", json=pending, headers=sent)
        assert r.status_code == 200 and r.json()["secret"], (who, r.text)
        # Confirming an authenticator that is confirmed already: 409 for any caller, before any code check.
        r = await h.client.post("/auth/second-factor/confirmation", json=confirmed, headers=sent)
        assert r.status_code == 409 and r.json()["type"].endswith("/mfa-enrolled"), (who, r.text)
        # The browser session: only a signed-in browser has one (a bearer token is not a session).
        r = await h.client.get("/auth/session", headers=sent)
        assert r.status_code == (200 if who in ANY_USER else 401), (who, r.status_code, r.text)
