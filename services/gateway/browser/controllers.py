"""Browser sign-in (backend-for-frontend): the web app posts credentials, gets an HttpOnly cookie and a
CSRF token, and never sees an OAuth token."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import Body

from services.gateway.accounts.invitations import Invitations
from services.gateway.accounts.schemas import ConfirmEnrolment, RecoveryCodes, ResumeEnrolment, TotpEnrolment
from services.gateway.accounts.second_factor import SecondFactor
from services.gateway.accounts.signin import SignIn
from services.gateway.adapters.ratelimit import RateLimiter
from services.gateway.auth.caller import Caller, need_user
from services.gateway.auth.service import Authenticator
from services.gateway.browser.sessions import BrowserSessions
from services.gateway.config import Settings
from shared.http import BadRequest, Unauthorized


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=256)]
    totp_code: Annotated[str, msgspec.Meta(max_length=12)] | None = None
    # In place of `totp_code` (a lost phone): one of the account's recovery codes, spent by this sign-in.
    recovery_code: Annotated[str, msgspec.Meta(max_length=40)] | None = None


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
    email: str  # the address to sign in with (and to confirm the authenticator with)
    totp_required: bool
    # For roles that need a second factor: the new authenticator key, pending until confirmed with a code
    # (POST /auth/second-factor/confirmation). `totp_uri` repeats `totp_enrolment.otpauth_uri`.
    totp_uri: str | None = None
    totp_enrolment: TotpEnrolment | None = None


class LoggedOut(msgspec.Struct):
    ended_sessions: int


def _require_json(request: Request[Any, Any, Any]) -> None:
    # A cross-site HTML form cannot send application/json without a CORS preflight: login CSRF defence.
    if not (request.headers.get("content-type") or "").startswith("application/json"):
        raise BadRequest("Send application/json.", slug="content-type")


def set_session_cookie(s: Settings, response: Response[Any], value: str, max_age: int) -> None:
    response.set_cookie(key=s.cookie_name, value=value, path="/", max_age=max_age, secure=s.cookie_secure,
                        httponly=True, samesite="strict" if s.cookie_samesite == "strict" else "lax")


def _clear_cookie(settings: Settings, response: Response[Any]) -> None:
    set_session_cookie(settings, response, "", 0)


async def _ip_limit(limiter: RateLimiter, settings: Settings, request: Request[Any, Any, Any], what: str) -> None:
    client = request.client.host if request.client else "unknown"
    await limiter.hit((f"{what}:{client}", settings.auth_rate_limit_per_ip))


@post("/auth/login", tags=["browser session"], status_code=200)
async def login(request: Request[Any, Any, Any], settings: NamedDependency[Settings],
                limiter: NamedDependency[RateLimiter], signin: NamedDependency[SignIn],
                sessions: NamedDependency[BrowserSessions],
                data: Annotated[LoginRequest, Body()]) -> Response[SessionInfo]:
    """Sign in with e-mail, password and (admin, safeguarding) a TOTP code or a recovery code; sets the session
    cookie. An account whose authenticator is not confirmed yet gets 401 `mfa-enrolment-pending`."""
    _require_json(request)
    await _ip_limit(limiter, settings, request, "login")
    state = await signin.authenticate(data.email, data.password, data.totp_code, data.recovery_code)
    old = await sessions.get(sessions.cookie_of(request.headers))
    if old is not None:  # no session fixation: a sign-in always gets a fresh session
        await sessions.delete(old)
    amr = ["pwd", "otp"] if data.totp_code or data.recovery_code else ["pwd"]
    cookie, session = await sessions.create(state.user_id, amr)
    info = SessionInfo(user_id=state.user_id, roles=list(state.roles), csrf_token=session.csrf, sid=session.sid,
                       expires_at=int(session.created + settings.session_absolute_s))
    response = Response(info, status_code=200)
    set_session_cookie(settings, response, cookie, settings.session_absolute_s)
    return response


@get("/auth/session", tags=["browser session"])
async def current_session(request: Request[Any, Any, Any], settings: NamedDependency[Settings],
                          auth: NamedDependency[Authenticator]) -> SessionInfo:
    """The signed-in browser session (and its CSRF token), or 401."""
    caller = await auth.signed_in(request.headers)
    if caller is None or caller.session is None:
        raise Unauthorized("Sign in first.")
    session = caller.session
    return SessionInfo(user_id=caller.sub, roles=list(caller.roles), csrf_token=session.csrf, sid=session.sid,
                       expires_at=int(session.created + settings.session_absolute_s))


@post("/auth/logout", tags=["browser session"], status_code=200)
async def logout(settings: NamedDependency[Settings], signin: NamedDependency[SignIn],
                 sessions: NamedDependency[BrowserSessions], caller: NamedDependency[Caller]) -> Response[LoggedOut]:
    """End this browser session (and the OAuth tokens issued through it, and its live sockets)."""
    ended = 0
    if caller.session is not None:
        await sessions.logout(caller.session)
        ended = 1
    await signin.audit(caller.sub, "auth.logout", f"user:{caller.sub}", "success")
    response = Response(LoggedOut(ended_sessions=ended), status_code=200)
    _clear_cookie(settings, response)
    return response


@post("/auth/logout-everywhere", tags=["browser session"], status_code=200)
async def logout_everywhere(settings: NamedDependency[Settings], signin: NamedDependency[SignIn],
                            sessions: NamedDependency[BrowserSessions],
                            caller: NamedDependency[Caller]) -> Response[LoggedOut]:
    """End every session and revoke every token of the signed-in user."""
    user_id = need_user(caller)
    count = await sessions.count(user_id)
    await signin.end_everywhere(user_id)
    await signin.audit(user_id, "auth.logout_everywhere", f"user:{user_id}", "success")
    response = Response(LoggedOut(ended_sessions=count), status_code=200)
    _clear_cookie(settings, response)
    return response


@post("/auth/invitations/accept", tags=["browser session"], status_code=200)
async def accept_invitation(request: Request[Any, Any, Any], settings: NamedDependency[Settings],
                            limiter: NamedDependency[RateLimiter], invitations: NamedDependency[Invitations],
                            data: Annotated[AcceptInvitation, Body()]) -> InvitationAccepted:
    """Set the password with the one-time invitation token (then sign in)."""
    _require_json(request)
    await _ip_limit(limiter, settings, request, "invite")
    user_id, email, pending = await invitations.accept(data.token, data.password)
    return InvitationAccepted(user_id=user_id, email=email, totp_required=pending is not None,
                              totp_uri=pending.uri if pending else None,
                              totp_enrolment=TotpEnrolment.of(pending) if pending else None)


@post("/auth/second-factor/enrolment", tags=["browser session"], status_code=200)
async def resume_enrolment(request: Request[Any, Any, Any], settings: NamedDependency[Settings],
                           limiter: NamedDependency[RateLimiter], second_factor: NamedDependency[SecondFactor],
                           data: Annotated[ResumeEnrolment, Body()]) -> TotpEnrolment:
    """The pending authenticator key again (e.g. the page was closed before a code was entered), with the
    account's password. Only while it is pending: a confirmed key is never shown again."""
    _require_json(request)
    await _ip_limit(limiter, settings, request, "login")
    return TotpEnrolment.of(await second_factor.pending(data.email, data.password))


@post("/auth/second-factor/confirmation", tags=["browser session"], status_code=200)
async def confirm_enrolment(request: Request[Any, Any, Any], settings: NamedDependency[Settings],
                            limiter: NamedDependency[RateLimiter], second_factor: NamedDependency[SecondFactor],
                            data: Annotated[ConfirmEnrolment, Body()]) -> RecoveryCodes:
    """Confirm the pending authenticator key with a current code from the app: from now on sign-in asks for
    its codes. Answers the account's ten one-time recovery codes, shown once (then sign in)."""
    _require_json(request)
    await _ip_limit(limiter, settings, request, "login")
    return RecoveryCodes(codes=await second_factor.confirm(data.email, data.password, data.totp_code))


ROUTES = [login, current_session, logout, logout_everywhere, accept_invitation, resume_enrolment, confirm_enrolment]
