"""The web app: static files (plain HTML, CSS and ES modules; no build step) served by the gateway.

`/`, `/login`, `/invitation`, and the public concern pages `/report` and `/report/follow-up` (anyone, no
account: reports sees such callers as 'anonymous') answer with index.html (the app routes inside the page
with `#/...`); assets live under `/web/`. Nothing here is inline, so the gateway's strict CSP applies
unchanged.

An unknown address outside `/api/` asked for by a browser navigating to it (GET or HEAD, `Accept`
naming text/html) gets the app's own "not found" page: index.html's shell (head, header, footer) with the
title, navigation and content of not-found.html and without the app's script (it works with no JavaScript);
nothing of the request is in it.
Every other unknown address, `/api/...` always and any request wanting JSON, keeps the problem+json 404.
`/favicon.ico` answers with the SVG icon the pages link to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException, NotFoundException
from litestar.static_files import create_static_files_router

STATIC = Path(__file__).parent / "static"
# No content hashes in the file names (no build step): browsers revalidate every asset (ETag / 304).
REVALIDATE = CacheControlHeader(no_cache=True)
FAVICON = STATIC / "favicon.svg"
INDEX_PAGE = STATIC / "index.html"
NOT_FOUND_PARTS = STATIC / "not-found.html"
# The elements of index.html that not-found.html replaces; index.html's <script> elements are left out.
NOT_FOUND_REPLACES = ("title", "nav", "main")
COMMENT = re.compile(r"<!--.*?-->", re.S)
SCRIPT = re.compile(r"\s*<script\b[^>]*>.*?</script>", re.S | re.I)


def element(html: str, tag: str) -> re.Match[str]:
    """The one `<tag ...>...</tag>` element in `html` (not nested in itself)."""
    found = list(re.finditer(rf"<{tag}\b[^>]*>.*?</{tag}>", html, re.S | re.I))
    if len(found) != 1:
        raise RuntimeError(f"expected one <{tag}> element, found {len(found)}")
    return found[0]


def not_found_page() -> bytes:
    """index.html with not-found.html's title, navigation and main content, and no script: one source for
    the shell both pages share."""
    page = INDEX_PAGE.read_text(encoding="utf-8")
    parts = COMMENT.sub("", NOT_FOUND_PARTS.read_text(encoding="utf-8"))
    for tag in NOT_FOUND_REPLACES:
        old = element(page, tag)
        page = page[:old.start()] + element(parts, tag).group(0) + page[old.end():]
    return SCRIPT.sub("", page).encode("utf-8")


@get(["/", "/login", "/invitation", "/report", "/report/follow-up"], include_in_schema=False, cache_control=REVALIDATE)
async def index() -> Response[bytes]:
    """The app's single page."""
    return Response(INDEX_PAGE.read_bytes(), media_type="text/html")


@get("/favicon.ico", include_in_schema=False, cache_control=REVALIDATE)
async def favicon() -> Response[bytes]:
    """Browsers ask for /favicon.ico on their own: the same SVG icon the pages link to."""
    return Response(FAVICON.read_bytes(), media_type="image/svg+xml")


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """A browser navigating to an address outside the API: GET/HEAD, not `/api/...`, and HTML accepted
    explicitly (the app's own fetches ask for JSON; `*/*` alone is not enough)."""
    if request.method not in ("GET", "HEAD") or request.scope["path"].startswith("/api/"):
        return False
    accept = (request.headers.get("accept") or "").lower()
    return "text/html" in accept


def not_found_handler(fallback: Callable[[Request[Any, Any, Any], Any], Response[Any]]
                      ) -> Callable[[Request[Any, Any, Any], NotFoundException], Response[Any]]:
    """The router's 404 (no route for the path): the HTML page for a browser, else `fallback` (problem+json)."""

    def handle(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
        if not wants_page(request):
            return fallback(request, exc)
        return Response(not_found_page(), status_code=404, media_type="text/html",
                        headers={"cache-control": "no-store"})

    return handle


def serve_not_found_page(config: AppConfig) -> AppConfig:
    """`on_app_init` hook: routes nobody matched answer browsers with the HTML page. Handlers raising a
    service's own 404 problem (shared.http.NotFound) are not NotFoundException and stay problem+json."""
    handlers = dict(config.exception_handlers)
    fallback = handlers[HTTPException]
    handlers[NotFoundException] = not_found_handler(fallback)
    config.exception_handlers = handlers  # a copy: the shared map of the other services is left alone
    return config


ROUTES = [index, favicon, create_static_files_router(path="/web", directories=[STATIC], cache_control=REVALIDATE,
                                                     include_in_schema=False, name="web")]
