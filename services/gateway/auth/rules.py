"""The rules that decide who a caller is, from what the stores hold: one place, for every door.

Pure functions: they read values and raise the answer (401, 403 CSRF or scope); `service.Authenticator`
gathers the values (one Redis round trip) and keeps a short memory of the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.gateway.auth.caller import CSRF_HEADER, SAFE_METHODS, BrowserSession, Caller, CsrfFailed
from services.gateway.auth.ports import UserState
from shared.http import Forbidden, Unauthorized

MAX_COOKIE = 128


@dataclass(frozen=True)
class Door:
    """What one way into the gateway asks of its callers."""

    scope: str | None  # a bearer token must carry this scope
    counted: bool  # each request counts against the per-identity and per-address rate limits
    scheme_hint: bool  # a malformed Authorization header is told to use Bearer (else: an invalid token)


PROXY = Door(scope="api", counted=True, scheme_hint=False)  # the services' API: `/api/...`
ENDPOINTS = Door(scope=None, counted=False, scheme_hint=True)  # the gateway's own endpoints


class SessionOver(Unauthorized):
    """The browser session is over (timed out, or its user is suspended or signed out everywhere): the
    store deletes it before the 401 goes out."""

    def __init__(self) -> None:
        super().__init__("Sign in first.", headers={"www-authenticate": "Bearer"})


def sign_in_first() -> Unauthorized:
    return Unauthorized("Sign in first.", headers={"www-authenticate": "Bearer"})


def invalid_token() -> Unauthorized:
    return Unauthorized("The access token is invalid, expired or revoked.",
                        headers={"www-authenticate": 'Bearer error="invalid_token"'})


def bearer_token(authorization: str, door: Door) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when the header is anything else."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        if door.scheme_hint:
            raise Unauthorized("Use a Bearer access token.",
                               headers={"www-authenticate": 'Bearer error="invalid_request"'})
        return None
    return token.strip()


def usable_claims(claims: dict[str, Any] | None, issuer: str) -> dict[str, Any]:
    """An access token's claims: signed by us, unexpired (`decode`), for us, issued to a client."""
    if claims is None or claims.get("aud") != issuer or "client_id" not in claims:
        raise invalid_token()
    return claims


def usable_cookie(cookie: str | None) -> str:
    if not cookie or len(cookie) > MAX_COOKIE:
        raise sign_in_first()
    return cookie


def token_caller(claims: dict[str, Any], *, revoked: bool, state: UserState | None, client_known: bool) -> Caller:
    """The caller an access token speaks for: not revoked (itself or its family), and either a service
    client still registered or an active user whose sign-ins were not ended after it was issued."""
    if revoked:
        raise invalid_token()
    sub, scope = str(claims.get("sub", "")), str(claims.get("scope", ""))
    if sub.startswith("service:"):
        if not client_known:
            raise invalid_token()
        return Caller(sub=sub, roles=("service",), sid=None, via="bearer", scope=scope)
    if state is None or not state.active or claims["iat"] < int(state.valid_after):
        raise invalid_token()
    return Caller(sub=sub, roles=state.roles, sid=claims.get("sid"), via="bearer", scope=scope)


def session_alive(session: BrowserSession, now: float, *, idle_s: float, absolute_s: float) -> bool:
    return now - session.seen <= idle_s and now - session.created <= absolute_s


def session_caller(session: BrowserSession, state: UserState | None) -> Caller:
    """The caller a (timely) browser session speaks for: an active user who was not signed out everywhere
    since the session began. Raises `SessionOver` otherwise."""
    if state is None or not state.active or session.created < state.valid_after - 0.001:
        raise SessionOver
    return Caller(sub=state.user_id, roles=state.roles, sid=session.sid, via="cookie", session=session)


def admit(caller: Caller, door: Door, headers: Any, method: str) -> Caller:
    """What the door asks on every request, remembered caller or not: a bearer token's scope, a browser's
    CSRF token on unsafe methods."""
    if caller.session is not None:
        if method.upper() not in SAFE_METHODS and not caller.session.csrf_ok(headers.get(CSRF_HEADER)):
            raise CsrfFailed("A valid CSRF token (x-csrf-token header) is required.")
    elif door.scope is not None and caller.via == "bearer" and door.scope not in caller.scope.split():
        # A token for sign-in only (openid, profile) does not open the services' API.
        raise Forbidden(f"This token lacks the `{door.scope}` scope.", slug="insufficient-scope",
                        headers={"www-authenticate": f'Bearer error="insufficient_scope", scope="{door.scope}"'})
    return caller
