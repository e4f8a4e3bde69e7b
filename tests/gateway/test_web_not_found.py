"""Unknown addresses: a browser navigating gets the web app's HTML "not found" page (404), while the API,
and anything asking for JSON, keeps the problem+json 404. The favicon is served, not a 404."""

from __future__ import annotations

import pytest

from tests.support.gateway import Harness

pytestmark = pytest.mark.integration

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
APP_ACCEPT = "application/json, application/problem+json"


@pytest.mark.parametrize("path", ["/no-such-page", "/pairings/xyz/zzz", "/admin/users/a/b/c/d", "/web/nope.html"])
async def test_a_browser_gets_the_html_not_found_page(harness: Harness, path: str) -> None:
    resp = await harness.client.get(path, headers={"accept": BROWSER_ACCEPT})
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in resp.text
    assert '<a href="/">Go to the home page</a>' in resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in resp.headers["content-security-policy"]  # the gateway's headers still apply
    head = await harness.client.head(path, headers={"accept": BROWSER_ACCEPT})
    assert head.status_code == 404


async def test_nothing_of_the_address_is_reflected(harness: Harness) -> None:
    path = "/%3Cscript%3Ealert(1)%3C/script%3E/%22onload=%22x"
    resp = await harness.client.get(path, headers={"accept": BROWSER_ACCEPT})
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")
    assert "<script" not in resp.text.lower() and "alert(1)" not in resp.text and "onload" not in resp.text


@pytest.mark.parametrize("path", ["/api/sessions/no-such-thing", "/api/nowhere/at/all", "/api/records/x"])
async def test_api_paths_keep_problem_json(harness: Harness, path: str) -> None:
    resp = await harness.client.get(path, headers={"accept": BROWSER_ACCEPT})
    assert resp.status_code in (401, 404)  # unknown service: 404; a known one wants a sign-in first
    assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("accept", [APP_ACCEPT, "*/*", ""])
async def test_json_and_non_browser_clients_keep_problem_json(harness: Harness, accept: str) -> None:
    resp = await harness.client.get("/no-such-page", headers={"accept": accept})
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["type"].endswith("/not-found")


async def test_other_methods_and_service_404s_keep_problem_json(harness: Harness) -> None:
    post = await harness.client.post("/no-such-page", headers={"accept": BROWSER_ACCEPT}, json={})
    assert post.status_code in (404, 405)
    assert post.headers["content-type"].startswith("application/problem+json")
    # A route that exists answering its own 404 (a problem with a slug) is an API answer, not a page.
    admin = await harness.client.get("/auth/session", headers={"accept": BROWSER_ACCEPT})
    assert admin.status_code == 401 and admin.headers["content-type"].startswith("application/problem+json")


async def test_the_favicon_is_served(harness: Harness) -> None:
    for path in ("/favicon.ico", "/web/favicon.svg"):
        resp = await harness.client.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith("image/svg+xml"), path
        assert resp.text.lstrip().startswith("<svg")
    index = await harness.client.get("/", headers={"accept": BROWSER_ACCEPT})
    assert '<link rel="icon" href="/web/favicon.svg" type="image/svg+xml">' in index.text


async def test_the_page_shares_the_app_shell_and_runs_no_script(harness: Harness) -> None:
    """index.html is the one source of the head, header and footer; the not-found page has its own title,
    navigation and content, and none of the app's script (it works without JavaScript)."""
    index = (await harness.client.get("/", headers={"accept": BROWSER_ACCEPT})).text
    page = (await harness.client.get("/no-such-page", headers={"accept": BROWSER_ACCEPT})).text
    assert "<title>Page not found · Tandem</title>" in page and "<title>Tandem</title>" not in page
    assert '<link rel="icon" href="/web/favicon.svg" type="image/svg+xml">' in page
    assert '<link rel="stylesheet" href="/web/app.css">' in page
    footer = index[index.index('<footer class="site-footer">'):index.index("</footer>")]
    assert footer and footer in page
    assert '<li><a href="/report">Report a concern</a></li>' in page  # the navigation is in the page itself
    assert "<script" in index and "<script" not in page and "<!--" not in page
    assert page.count("<main") == 1 and page.count("<nav") == 1
