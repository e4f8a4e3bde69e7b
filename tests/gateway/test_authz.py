"""Every gateway endpoint that needs a caller, tried by every role (and nobody): 401 without
credentials, 403 for roles it does not allow, anything else for roles it does.

The proxied endpoint is answered by a real service behind this gateway (JWKS fetched from it), not by
whatever happens to listen at the default upstream address: with a developer's `make run` stack on port
8002, that service trusted another gateway's keys and the test failed when run on its own (issue #14
item 11). The matrix rotates the assertion key twice in a row (admin, then operator) after the service
has cached the JWKS: the service must follow both rotations at once, not refuse for its refresh limit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.assertion_apps import stack_of
from tests.support.databases import Databases
from tests.support.gateway import Clock, Harness

pytestmark = pytest.mark.integration

ROLES = ["mentee", "mentor", "admin", "safeguarding", "operator", "service"]
ANY_USER = {"mentee", "mentor", "admin", "safeguarding", "operator"}
EVERYONE = ANY_USER | {"service"}


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
    new_user = {"email": "new@example.org", "display_name": "N", "roles": ["mentee"]}
    client = {"name": "c", "grant_types": ["client_credentials"], "scope": ["api"], "confidential": True}
    endpoints: list[tuple[str, str, dict[str, object] | None, set[str]]] = [
        ("GET", "/admin/users", None, {"admin"}),
        ("GET", f"/admin/users/{target}", None, {"admin"}),
        ("POST", "/admin/users", new_user, {"admin"}),
        ("PUT", f"/admin/users/{target}/roles", {"roles": ["mentor"]}, {"admin"}),
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
        ("GET", "/me/inbox", None, ANY_USER),
        ("POST", "/me/inbox/0123456789abcdef0123456789abcdef/read", None, ANY_USER),
        ("GET", "/api/records/whoami", None, EVERYONE),  # the proxy authenticates; services authorize
    ]
    for method, path, body, allowed in endpoints:
        anonymous = await h.client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        for role in ROLES:
            r = await h.client.request(method, path, json=body, headers=headers[role])
            if role in allowed:
                assert r.status_code not in (401, 403), (method, path, role, r.text)
                assert r.status_code < 500, (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.status_code, r.text)
            if path.endswith("/suspend") and r.status_code == 200:
                await h.client.post(f"/admin/users/{target}/reactivate", headers=headers["admin"])
    for path in ("/auth/logout", "/auth/logout-everywhere"):
        assert (await h.client.post(path)).status_code == 401
    for role in ROLES[:-1]:
        assert (await h.client.post("/auth/logout", headers=headers[role])).status_code == 200
    assert (await h.client.post("/auth/logout-everywhere", headers=headers["service"])).status_code == 403
