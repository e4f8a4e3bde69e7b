"""Browser sign-in through the upstream OpenID provider (when GATEWAY_FEDERATION_ISSUER is set)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from services.gateway.browser.controllers import set_session_cookie
from services.gateway.browser.sessions import BrowserSessions
from services.gateway.config import Settings
from services.gateway.federation.service import Federation, FederationFailed
from shared.http import NotFound


def _enabled(fed: Federation) -> Federation:
    if not fed.enabled:
        raise NotFound("Sign-in through another provider is not configured.")
    return fed


@get("/auth/federated/start", tags=["browser session"], status_code=302)
async def federated_start(federation: NamedDependency[Federation],
                          return_to: Annotated[str, QueryParameter(max_length=2000)] = "/") -> Response[Any]:
    """Send the browser to the upstream provider's sign-in page."""
    if not return_to.startswith("/") or return_to.startswith("//") or "\\" in return_to:
        return_to = "/"  # only paths of our own site: no open redirect
    return Redirect(await _enabled(federation).start(return_to), status_code=302)


@get("/auth/federated/callback", tags=["browser session"], status_code=302)
async def federated_callback(request: Request[Any, Any, Any], federation: NamedDependency[Federation],
                             sessions: NamedDependency[BrowserSessions],
                             settings: NamedDependency[Settings]) -> Response[Any]:
    """The upstream's answer (`state`, `code` or `error`): verify it, then sign the browser in here."""
    fed = _enabled(federation)
    # `state` is a reserved handler argument name in Litestar: read the query directly.
    query = request.query_params
    state, code, error = query.get("state", ""), query.get("code", ""), query.get("error", "")
    if error or not state or not code or len(state) > 200 or len(code) > 2000:
        raise FederationFailed("The upstream provider did not sign you in.")
    user, amr, return_to = await fed.finish(state, code)
    old = await sessions.get(sessions.cookie_of(request.headers))
    if old is not None:
        await sessions.delete(old)
    cookie, _session = await sessions.create(user.user_id, amr)
    response: Response[Any] = Redirect(return_to, status_code=302)
    set_session_cookie(settings, response, cookie, settings.session_absolute_s)
    return response


ROUTES = [federated_start, federated_callback]
