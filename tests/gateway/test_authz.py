"""Every gateway endpoint that needs a caller, tried by every role (and nobody): 401 without
credentials, 403 for roles it does not allow, anything else for roles it does."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Harness

pytestmark = pytest.mark.integration

ROLES = ["mentee", "mentor", "admin", "safeguarding", "operator", "service"]
ANY_USER = {"mentee", "mentor", "admin", "safeguarding", "operator"}
EVERYONE = ANY_USER | {"service"}


async def test_authorization_matrix(harness: Harness) -> None:
    h = harness
    target = await h.make_user("target@example.org", ["mentor"])
    headers: dict[str, dict[str, str]] = {}
    for role in ROLES[:-1]:
        headers[role] = (await h.user(f"{role}@example.org", [role])).headers()
    client_id, secret = await h.gw.oauth.create_client(name="svc", redirect_uris=[], post_logout_redirect_uris=[],
                                                       grant_types=["client_credentials"], scope=["api"],
                                                       confidential=True)
    token = (await h.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(client_id, secret or ""))).json()["access_token"]
    headers["service"] = {"authorization": f"Bearer {token}"}
    agreement = (await h.client.post("/admin/agreements", headers=headers["admin"],
                                     json={"kind": "confidentiality", "title": "C", "body": "Keep it private."})
                 ).json()["id"]
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
                assert r.status_code < 500 or path.startswith("/api/"), (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.status_code, r.text)
            if path.endswith("/suspend") and r.status_code == 200:
                await h.client.post(f"/admin/users/{target}/reactivate", headers=headers["admin"])
    for path in ("/auth/logout", "/auth/logout-everywhere"):
        assert (await h.client.post(path)).status_code == 401
    for role in ROLES[:-1]:
        assert (await h.client.post("/auth/logout", headers=headers[role])).status_code == 200
    assert (await h.client.post("/auth/logout-everywhere", headers=headers["service"])).status_code == 403
