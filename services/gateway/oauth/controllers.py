"""OAuth 2.1 / OIDC endpoints: discovery, JWKS, authorize, token, revoke (RFC 7009), introspect
(RFC 7662), userinfo, RP-initiated logout; client registration for admins and operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Request, Response, get, post, route
from litestar.di import NamedDependency, Provide
from litestar.params import Body, FromPath
from litestar.response import Redirect

from services.gateway.adapters.ratelimit import RateLimiter
from services.gateway.auth.caller import Caller, need
from services.gateway.auth.service import Authenticator
from services.gateway.browser.sessions import BrowserSessions
from services.gateway.config import Settings
from services.gateway.keys.service import Keys
from services.gateway.live.service import LiveSockets
from services.gateway.oauth import openapi
from services.gateway.oauth.access import AccessTokens
from services.gateway.oauth.clients import Client, Clients, OAuthError, server_metadata
from services.gateway.oauth.codes import AuthorizationCodes
from services.gateway.oauth.revocation import Revocation
from services.gateway.oauth.tokens import Tokens
from shared.clock import EpochClock
from shared.http import BadRequest
from shared.service import Runtime

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
MAX_FORM = 16 * 1024


def oauth_error(exc: OAuthError) -> Response[Any]:
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["www-authenticate"] = 'Basic realm="tandem"'
    return Response(exc.body(), status_code=exc.status, headers=headers, media_type="application/json")


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """application/x-www-form-urlencoded body; repeated parameters are an error (RFC 6749 §3.1)."""
    if not (request.headers.get("content-type") or "").startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request", "Send application/x-www-form-urlencoded.")
    body = await request.body()
    if len(body) > MAX_FORM:
        raise OAuthError("invalid_request", "Request too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The body is not UTF-8.") from None
    return _unique(pairs)


def _unique(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise OAuthError("invalid_request", f"Parameter {key} is repeated.")
        if value != "":
            out[key] = value
    return out


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


# -- discovery and keys ------------------------------------------------------------------------------


@get("/.well-known/openid-configuration", tags=["oauth"], sync_to_thread=False)
def discovery(settings: NamedDependency[Settings]) -> dict[str, Any]:
    """OpenID Provider metadata."""
    return server_metadata(settings.issuer)


@get("/.well-known/oauth-authorization-server", tags=["oauth"], sync_to_thread=False)
def as_metadata(settings: NamedDependency[Settings]) -> dict[str, Any]:
    """RFC 8414 authorization server metadata (same document)."""
    return server_metadata(settings.issuer)


@get("/oauth/jwks", tags=["oauth"], sync_to_thread=False)
def token_jwks(keys: NamedDependency[Keys]) -> Response[dict[str, Any]]:
    """Public keys of access and ID tokens (new keys appear before they sign; old ones stay until
    their tokens expire)."""
    return Response(keys.token.jwks(), headers={"cache-control": "public, max-age=60"})


@get("/internal/assertion-jwks", tags=["internal"], sync_to_thread=False)
def assertion_jwks(keys: NamedDependency[Keys]) -> Response[dict[str, Any]]:
    """Public keys of the identity assertions internal services verify (public keys only)."""
    return Response(keys.assertion.jwks(), headers={"cache-control": "public, max-age=60"})


class Rotated(msgspec.Struct):
    purpose: str
    kid: str


@post("/admin/keys/{purpose:str}/rotate", tags=["admin"], status_code=201)
async def rotate_keys(keys: NamedDependency[Keys], runtime: NamedDependency[Runtime],
                      caller: NamedDependency[Caller], purpose: FromPath[str]) -> Rotated:
    """Publish the next signing key now (it signs after GATEWAY_KEY_PUBLISH_AHEAD_S) (operators, admins)."""
    need(caller, "operator", "admin")
    if purpose not in ("assertion", "token"):
        raise BadRequest("purpose is assertion or token", slug="invalid-purpose")
    ring = keys.assertion if purpose == "assertion" else keys.token
    kid = await ring.rotate()
    await runtime.auditor(caller.sub, "keys.rotate", f"keys:{purpose}", "success")
    return Rotated(purpose=purpose, kid=kid)


# -- authorization endpoint ------------------------------------------------------------------------------


@get("/oauth/authorize", tags=["oauth"], status_code=302)
async def authorize(request: Request[Any, Any, Any], oauth_codes: NamedDependency[AuthorizationCodes],
                    auth: NamedDependency[Authenticator], settings: NamedDependency[Settings],
                    clock: NamedDependency[EpochClock]) -> Response[Any]:
    """Authorization code + PKCE (S256) for the signed-in browser session; first-party clients only,
    so consent is implied by signing in."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    try:
        params = _unique(parse_qsl(raw, keep_blank_values=True))
        client = await oauth_codes.check_client(params)
    except OAuthError as exc:
        # Never redirect to an unverified URI: show the error instead.
        return Response({**exc.body()}, status_code=400, headers=NO_STORE, media_type="application/json")
    redirect_uri = params["redirect_uri"]
    state = {"state": params["state"]} if "state" in params else {}
    back = {**state, "iss": settings.issuer}
    try:
        scope = oauth_codes.check_request(client, params)
    except OAuthError as exc:
        return Redirect(_with_query(redirect_uri, {**exc.body(), **back}), status_code=302)
    signed_in = await auth.signed_in(request.headers)
    session = signed_in.session if signed_in is not None else None
    if session is None:
        if params.get("prompt") == "none":
            return Redirect(_with_query(redirect_uri, {"error": "login_required",
                                                       "error_description": "Sign in first.", **back}),
                            status_code=302)
        login = settings.login_url
        return Redirect(_with_query(login, {"return_to": f"/oauth/authorize?{raw}"}), status_code=302)
    max_age = params.get("max_age")
    if max_age is not None and max_age.isdigit() and clock() - session.auth_time > int(max_age):
        return Redirect(_with_query(redirect_uri, {"error": "login_required",
                                                   "error_description": "Sign in again.", **back}), status_code=302)
    code = await oauth_codes.issue(client, params, scope, session.user_id, session.sid, session.auth_time,
                                   session.amr)
    return Redirect(_with_query(redirect_uri, {"code": code, **back}), status_code=302,
                    headers={"cache-control": "no-store"})


# -- token, revocation, introspection -------------------------------------------------------------------


@post("/oauth/token", tags=["oauth"], status_code=200, operation_class=openapi.TOKEN)
async def token(request: Request[Any, Any, Any], oauth_clients: NamedDependency[Clients],
                oauth_tokens: NamedDependency[Tokens], limiter: NamedDependency[RateLimiter],
                settings: NamedDependency[Settings]) -> Response[Any]:
    """Token endpoint: authorization_code (+PKCE), refresh_token (rotating), client_credentials."""
    try:
        client_ip = request.client.host if request.client else "unknown"
        await limiter.hit((f"token:{client_ip}", settings.auth_rate_limit_per_ip * 4))
        form = await read_form(request)
        client = await oauth_clients.authenticate(form, request.headers.get("authorization"))
        body = await oauth_tokens.token(client, form)
    except OAuthError as exc:
        return oauth_error(exc)
    return Response(body, status_code=200, headers=NO_STORE)


async def _client_and_token(request: Request[Any, Any, Any], clients: Clients, *,
                            confidential: bool) -> tuple[Client, str]:
    """The authenticated client (`confidential`: introspection's) and the `token` it presents."""
    form = await read_form(request)
    client = await clients.authenticate(form, request.headers.get("authorization"))
    if confidential and not client.confidential:
        raise OAuthError("invalid_client", "Introspection needs a confidential client.", 401)
    if "token" not in form:
        raise OAuthError("invalid_request", "token is required.")
    return client, form["token"]


@post("/oauth/revoke", tags=["oauth"], status_code=200, operation_class=openapi.REVOKE)
async def revoke(request: Request[Any, Any, Any], oauth_clients: NamedDependency[Clients],
                 oauth_revocation: NamedDependency[Revocation]) -> Response[Any]:
    """RFC 7009: revoke a refresh token (its whole family) or an access token. Always 200 for valid requests."""
    try:
        client, presented = await _client_and_token(request, oauth_clients, confidential=False)
        await oauth_revocation.revoke(client, presented)
    except OAuthError as exc:
        return oauth_error(exc)
    return Response(b"", status_code=200, headers=NO_STORE)


@post("/oauth/introspect", tags=["oauth"], status_code=200, operation_class=openapi.INTROSPECT)
async def introspect(request: Request[Any, Any, Any], oauth_clients: NamedDependency[Clients],
                     access_tokens: NamedDependency[AccessTokens]) -> Response[Any]:
    """RFC 7662 for confidential clients (resource servers)."""
    try:
        client, presented = await _client_and_token(request, oauth_clients, confidential=True)
        body = await access_tokens.introspect(client, presented)
    except OAuthError as exc:
        return oauth_error(exc)
    return Response(body, status_code=200, headers=NO_STORE)


@route("/oauth/userinfo", http_method=["GET", "POST"], tags=["oauth"])
async def userinfo(request: Request[Any, Any, Any], access_tokens: NamedDependency[AccessTokens]) -> Response[Any]:
    """OIDC UserInfo for a bearer access token with the openid scope."""
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    checked = await access_tokens.check(value.strip()) if scheme.lower() == "bearer" else None
    if checked is None or "openid" not in checked.scope.split() or checked.sub.startswith("service:"):
        return Response({"error": "invalid_token"}, status_code=401,
                        headers={**NO_STORE, "www-authenticate": 'Bearer error="invalid_token"'})
    return Response(await access_tokens.userinfo(checked), headers=NO_STORE)


@dataclass(frozen=True)
class Logout:
    """What RP-initiated logout works with (both of its routes), by the context's field names."""

    access_tokens: NamedDependency[AccessTokens]
    oauth_clients: NamedDependency[Clients]
    oauth_revocation: NamedDependency[Revocation]
    sessions: NamedDependency[BrowserSessions]
    live: NamedDependency[LiveSockets]
    runtime: NamedDependency[Runtime]
    settings: NamedDependency[Settings]


LOGOUT = {"logout": Provide(Logout, sync_to_thread=False)}


@get("/oauth/logout", tags=["oauth"], status_code=200, operation_class=openapi.LOGOUT_GET, dependencies=LOGOUT)
async def end_session(request: Request[Any, Any, Any], logout: NamedDependency[Logout]) -> Response[Any]:
    """OIDC RP-initiated logout: needs `id_token_hint` (a token we issued, expired or not); ends the browser
    session and the tokens issued through it, then returns to a registered post_logout_redirect_uri."""
    return await _end_session(request, logout)


@post("/oauth/logout", tags=["oauth"], status_code=200, operation_class=openapi.LOGOUT_POST, dependencies=LOGOUT)
async def end_session_form(request: Request[Any, Any, Any], logout: NamedDependency[Logout]) -> Response[Any]:
    """OIDC RP-initiated logout with the parameters in a form body (query parameters are read too)."""
    return await _end_session(request, logout)


async def _end_session(request: Request[Any, Any, Any], parts: Logout) -> Response[Any]:
    sessions, settings = parts.sessions, parts.settings
    raw = request.scope.get("query_string", b"").decode("latin-1")
    try:
        params = _unique(parse_qsl(raw, keep_blank_values=True))
        if request.method == "POST":
            params.update(await read_form(request))
    except OAuthError as exc:
        return Response(exc.body(), status_code=400, headers=NO_STORE, media_type="application/json")
    claims = parts.access_tokens.decode(params.get("id_token_hint", ""), verify_exp=False)
    if claims is None:
        return Response({"error": "invalid_request", "error_description": "A valid id_token_hint is required."},
                        status_code=400, headers=NO_STORE)
    client_id = params.get("client_id") or str(claims.get("aud", ""))
    if client_id != claims.get("aud"):
        return Response({"error": "invalid_request", "error_description": "client_id does not match the hint."},
                        status_code=400, headers=NO_STORE)
    client = await parts.oauth_clients.get(client_id)
    target = params.get("post_logout_redirect_uri")
    if target is not None and (client is None or target not in client.post_logout_redirect_uris):
        return Response({"error": "invalid_request",
                         "error_description": "post_logout_redirect_uri is not registered for this client."},
                        status_code=400, headers=NO_STORE)
    sid = claims.get("sid")
    session = await sessions.get(sessions.cookie_of(request.headers))
    if session is not None and session.sid == sid:
        await sessions.delete(session)
    if isinstance(sid, str):
        await parts.oauth_revocation.revoke_sid(sid)
        await parts.live.revoke_sid(sid)
    await parts.runtime.auditor(str(claims.get("sub")), "auth.logout", f"client:{client_id}", "success", reason="rp")
    if target:
        extra = {"state": params["state"]} if "state" in params else {}
        response: Response[Any] = Redirect(_with_query(target, extra) if extra else target, status_code=302)
    else:
        response = Response({"logged_out": True}, headers=NO_STORE)
    if session is not None and session.sid == sid:
        response.set_cookie(key=settings.cookie_name, value="", path="/", max_age=0,
                            secure=settings.cookie_secure, httponly=True,
                            samesite="strict" if settings.cookie_samesite == "strict" else "lax")
    return response


# -- client registration (admins, operators) -----------------------------------------------------------


class NewClient(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    grant_types: Annotated[list[str], msgspec.Meta(min_length=1, max_length=3)]
    scope: Annotated[list[str], msgspec.Meta(max_length=5)]
    confidential: bool
    redirect_uris: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=10)] = []
    post_logout_redirect_uris: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]],
                                         msgspec.Meta(max_length=10)] = []
    client_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = None


class ClientCreated(msgspec.Struct):
    client_id: str
    # Shown once; only its hash is stored.
    client_secret: str | None


@post("/admin/clients", tags=["admin"], status_code=201)
async def create_client(oauth_clients: NamedDependency[Clients], runtime: NamedDependency[Runtime],
                        caller: NamedDependency[Caller],
                        data: Annotated[NewClient, Body()]) -> ClientCreated:
    """Register an OAuth client: an app (code + PKCE) or a service account (client credentials)."""
    need(caller, "admin", "operator")
    try:
        client_id, secret = await oauth_clients.create(
            name=data.name, redirect_uris=data.redirect_uris, post_logout_redirect_uris=data.post_logout_redirect_uris,
            grant_types=data.grant_types, scope=data.scope, confidential=data.confidential, client_id=data.client_id)
    except ValueError as exc:
        raise BadRequest(str(exc), slug="invalid-client") from None
    await runtime.auditor(caller.sub, "oauth.client_create", f"client:{client_id}", "success")
    return ClientCreated(client_id=client_id, client_secret=secret)


ROUTES = [discovery, as_metadata, token_jwks, assertion_jwks, rotate_keys, authorize, token, revoke, introspect,
          userinfo, end_session, end_session_form, create_client]
