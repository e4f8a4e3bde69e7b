"""Browser sign-in (backend-for-frontend): the web app posts credentials, gets an HttpOnly cookie and a
CSRF token, and never sees an OAuth token."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import Body

from services.gateway.core import Caller, Gateway
from services.gateway.deps import need_user
from shared.http import BadRequest, Unauthorized


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=256)]
    totp_code: Annotated[str, msgspec.Meta(max_length=12)] | None = None


class SessionInfo(msgspec.Struct):
    user_id: str
    roles: list[str]
    csrf_token: str
    sid: str
    expires_at: int  # absolute end of the session (unix seconds)


class AcceptInvitation(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=10, max_length=200)]
    password: Annotated[str, msgspec.Meta(max_length=256)]


class InvitationAccepted(msgspec.Struct):
    user_id: str
    totp_required: bool
    # Shown once: the authenticator app enrolment link (otpauth://) for roles that need a second factor.
    totp_uri: str | None = None


class LoggedOut(msgspec.Struct):
    ended_sessions: int


def _require_json(request: Request[Any, Any, Any]) -> None:
    # A cross-site HTML form cannot send application/json without a CORS preflight: login CSRF defence.
    if not (request.headers.get("content-type") or "").startswith("application/json"):
        raise BadRequest("Send application/json.", slug="content-type")


def set_session_cookie(gw: Gateway, response: Response[Any], value: str, max_age: int) -> None:
    s = gw.settings
    response.set_cookie(key=s.cookie_name, value=value, path="/", max_age=max_age, secure=s.cookie_secure,
                        httponly=True, samesite="strict" if s.cookie_samesite == "strict" else "lax")


def _clear_cookie(gw: Gateway, response: Response[Any]) -> None:
    set_session_cookie(gw, response, "", 0)


async def _ip_limit(gw: Gateway, request: Request[Any, Any, Any], what: str) -> None:
    client = request.client.host if request.client else "unknown"
    await gw.limiter.hit((f"{what}:{client}", gw.settings.auth_rate_limit_per_ip))


@post("/auth/login", tags=["browser session"], status_code=200)
async def login(request: Request[Any, Any, Any], gw: NamedDependency[Gateway],
                data: Annotated[LoginRequest, Body()]) -> Response[SessionInfo]:
    """Sign in with e-mail, password and (admin, safeguarding) a TOTP code; sets the session cookie."""
    _require_json(request)
    await _ip_limit(gw, request, "login")
    state = await gw.accounts.authenticate(data.email, data.password, data.totp_code)
    old = await gw.sessions.get(gw.cookie_of(request.headers))
    if old is not None:  # no session fixation: a sign-in always gets a fresh session
        await gw.sessions.delete(old)
    amr = ["pwd", "otp"] if data.totp_code else ["pwd"]
    cookie, session = await gw.sessions.create(state.user_id, amr)
    info = SessionInfo(user_id=state.user_id, roles=list(state.roles), csrf_token=session.csrf, sid=session.sid,
                       expires_at=int(session.created + gw.settings.session_absolute_s))
    response = Response(info, status_code=200)
    set_session_cookie(gw, response, cookie, gw.settings.session_absolute_s)
    return response


@get("/auth/session", tags=["browser session"])
async def current_session(request: Request[Any, Any, Any], gw: NamedDependency[Gateway]) -> SessionInfo:
    """The signed-in browser session (and its CSRF token), or 401."""
    session = await gw.sessions.get(gw.cookie_of(request.headers))
    if session is None:
        raise Unauthorized("Sign in first.")
    state = await gw.accounts.state(session.user_id)
    if state is None or not state.active or session.created < state.valid_after - 0.001:
        await gw.sessions.delete(session)
        raise Unauthorized("Sign in first.")
    return SessionInfo(user_id=state.user_id, roles=list(state.roles), csrf_token=session.csrf, sid=session.sid,
                       expires_at=int(session.created + gw.settings.session_absolute_s))


@post("/auth/logout", tags=["browser session"], status_code=200)
async def logout(gw: NamedDependency[Gateway], caller: NamedDependency[Caller]) -> Response[LoggedOut]:
    """End this browser session (and the OAuth tokens issued through it)."""
    ended = 0
    if caller.session is not None:
        await gw.sessions.delete(caller.session)
        await gw.oauth.revoke_sid(caller.session.sid)
        await gw.extras["live"].revoke_sid(caller.session.sid)
        ended = 1
    await gw.accounts.audit(caller.sub, "auth.logout", f"user:{caller.sub}", "success")
    response = Response(LoggedOut(ended_sessions=ended), status_code=200)
    _clear_cookie(gw, response)
    return response


@post("/auth/logout-everywhere", tags=["browser session"], status_code=200)
async def logout_everywhere(gw: NamedDependency[Gateway], caller: NamedDependency[Caller]) -> Response[LoggedOut]:
    """End every session and revoke every token of the signed-in user."""
    user_id = need_user(caller)
    count = len(await gw.redis.smembers(f"gw:us:{user_id}"))
    await gw.accounts.revoke_all_tokens(user_id)
    await gw.accounts.audit(user_id, "auth.logout_everywhere", f"user:{user_id}", "success")
    response = Response(LoggedOut(ended_sessions=count), status_code=200)
    _clear_cookie(gw, response)
    return response


@post("/auth/invitations/accept", tags=["browser session"], status_code=200)
async def accept_invitation(request: Request[Any, Any, Any], gw: NamedDependency[Gateway],
                            data: Annotated[AcceptInvitation, Body()]) -> InvitationAccepted:
    """Set the password with the one-time invitation token (then sign in)."""
    _require_json(request)
    await _ip_limit(gw, request, "invite")
    user_id, uri = await gw.accounts.accept_invitation(data.token, data.password)
    return InvitationAccepted(user_id=user_id, totp_required=uri is not None, totp_uri=uri)


ROUTES = [login, current_session, logout, logout_everywhere, accept_invitation]
