"""The web app: static files (plain HTML, CSS and ES modules; no build step) served by the gateway.

`/`, `/login`, `/invitation`, and the public concern pages `/report` and `/report/follow-up` (anyone, no
account: reports sees such callers as 'anonymous') answer with index.html (the app routes inside the page
with `#/...`); assets live under `/web/`. Nothing here is inline, so the gateway's strict CSP applies
unchanged.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

STATIC = Path(__file__).parent / "static"
# No content hashes in the file names (no build step): browsers revalidate every asset (ETag / 304).
REVALIDATE = CacheControlHeader(no_cache=True)


@get(["/", "/login", "/invitation", "/report", "/report/follow-up"], include_in_schema=False, cache_control=REVALIDATE)
async def index() -> Response[bytes]:
    """The app's single page."""
    return Response((STATIC / "index.html").read_bytes(), media_type="text/html")


ROUTES = [index, create_static_files_router(path="/web", directories=[STATIC], cache_control=REVALIDATE,
                                            include_in_schema=False, name="web")]
