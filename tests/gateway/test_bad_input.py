"""Malformed input anywhere gets a 4xx (problem+json, or an OAuth error body), never a 500."""

from __future__ import annotations

import pytest

from tests.support.gateway import Harness

pytestmark = pytest.mark.integration

BODIES: list[bytes] = [b"", b"{", b"[]", b"null", b'"x"', b"123", b'{"unknown": 1}', b"\xff\xfe\x00",
                       b'{"email": 5, "password": [], "roles": "admin", "status": {}, "kind": null}',
                       b'{"email": "' + b"a" * 5000 + b'", "password": "x"}',
                       b'{"token": "\\u0000", "password": "\\u0000\\u0000"}']
PATH_IDS = ["x", "%00", "..%2F..", "a" * 300, "0123456789abcdef0123456789abcdef"]


async def test_nothing_500s(harness: Harness) -> None:
    h = harness
    admin = await h.user("admin@example.org", ["admin"])
    json_endpoints = [("POST", "/auth/login"), ("POST", "/auth/invitations/accept"), ("POST", "/admin/users"),
                      ("POST", "/admin/agreements"), ("POST", "/admin/clients"),
                      ("PUT", "/admin/users/{id}/roles"), ("PUT", "/admin/users/{id}/vetting/interview")]
    target = await h.make_user("t@example.org", ["mentor"])
    for method, template in json_endpoints:
        path = template.format(id=target)
        for body in BODIES:
            r = await h.client.request(method, path, content=body,
                                       headers={**admin.headers(), "content-type": "application/json"})
            assert 400 <= r.status_code < 500, (method, path, body[:40], r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), (path, r.text)
            assert "Traceback" not in r.text
    for ident in PATH_IDS:
        for method, template in [("GET", "/admin/users/{id}"), ("PUT", "/admin/users/{id}/roles"),
                                 ("POST", "/admin/users/{id}/suspend"), ("POST", "/admin/users/{id}/reactivate"),
                                 ("POST", "/admin/users/{id}/invitation"), ("PUT", "/admin/users/{id}/vetting/{id}"),
                                 ("POST", "/me/agreements/{id}/accept"), ("POST", "/me/inbox/{id}/read"),
                                 ("POST", "/admin/keys/{id}/rotate")]:
            r = await h.client.request(method, "/" + template.format(id=ident).lstrip("/"),
                                       json={"roles": ["mentee"], "status": "passed"}, headers=admin.headers())
            assert r.status_code < 500, (method, template, ident, r.status_code, r.text)
    for query in ("limit=abc", "limit=-1", "offset=x", "role=" + "r" * 100, "limit=100000"):
        r = await h.client.get(f"/admin/users?{query}", headers=admin.headers())
        assert r.status_code == 400, (query, r.text)
    for body in BODIES:
        for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
            r = await h.client.post(path, content=body,
                                    headers={"content-type": "application/x-www-form-urlencoded"})
            assert 400 <= r.status_code < 500 and "error" in r.json(), (path, body[:40], r.text)
    for query in ("", "client_id=%00", "response_type=code&response_type=code", "redirect_uri=" + "x" * 3000):
        r = await h.client.get(f"/oauth/authorize?{query}", headers=admin.headers(csrf=False))
        assert 300 <= r.status_code < 500, (query, r.text)
    for query in ("", "id_token_hint=a.b.c", "id_token_hint=%ff", "post_logout_redirect_uri=x"):
        r = await h.client.get(f"/oauth/logout?{query}")
        assert r.status_code == 400, (query, r.text)
    for header in ({"cookie": f"{h.settings.cookie_name}=" + "x" * 4000}, {"cookie": "=;;=="},
                   {"x-csrf-token": "x" * 10000}):
        r = await h.client.get("/me", headers=header)
        assert r.status_code in (400, 401, 431), (header.keys(), r.text)
