"""Account administration (admins), vetting, programme agreements, and the signed-in user's pages."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import get, post, put
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, QueryParameter

from services.gateway.accounts.admin import AccountAdmin
from services.gateway.accounts.agreements import Agreements
from services.gateway.accounts.invitations import Invitations
from services.gateway.accounts.privileged import PrivilegedRoles
from services.gateway.accounts.schemas import RecoveryCodes, RegenerateRecoveryCodes, SecondFactorStatus
from services.gateway.accounts.second_factor import SecondFactor
from services.gateway.accounts.users import Users
from services.gateway.accounts.vetting import MentorVetting
from services.gateway.auth.caller import Caller, need, need_user
from services.gateway.config import Settings
from shared.http import Forbidden, NotFound
from shared.service import Runtime

Email = Annotated[str, msgspec.Meta(max_length=320)]
Name = Annotated[str, msgspec.Meta(max_length=200)]
Id = Annotated[str, msgspec.Meta(pattern=r"^[a-f0-9]{32}$")]


class VettingItem(msgspec.Struct):
    item: str
    status: str
    recorded_by: str | None
    recorded_at: str | None


class User(msgspec.Struct):
    id: str
    email: str
    display_name: str
    status: str
    roles: list[str]
    vetted: bool
    agreements_current: bool
    mfa_enrolled: bool
    created_at: str | None
    vetting: list[VettingItem] = []
    time_zone: Annotated[str | None, msgspec.Meta(
        description="The person's IANA time zone (e.g. Europe/London): the web app shows every time in it. "
                    "null until set.")] = None
    language: Annotated[Literal["en", "fr"] | None, msgspec.Meta(
        description="The person's language for the web app (en, fr); null: the browser's.")] = None


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    display_name: Name
    # Ordinary roles (mentee, mentor, operator), possibly none yet; admin and safeguarding are refused
    # here (422) and granted with POST /admin/users/{id}/privileged-roles.
    roles: Annotated[list[str], msgspec.Meta(max_length=5)]


class Invitation(msgspec.Struct):
    user_id: str
    # Shown once; only its hash is stored. Send it to the person through a trusted channel.
    invitation_url: str
    expires_at: int


class Roles(msgspec.Struct, forbid_unknown_fields=True):
    roles: Annotated[list[str], msgspec.Meta(max_length=5)]


class PrivilegedGrant(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["admin", "safeguarding"]
    confirm: Annotated[bool, msgspec.Meta(description="Must be true: the admin has checked who gets which role.")]
    totp_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$",
                                           description="The granting admin's current authenticator code.")]


class PrivilegedGrantResult(msgspec.Struct):
    user_id: str
    role: str
    roles: list[str]
    granted: bool  # false: the person held the role already
    needs_new_link: bool  # active without a second factor: send a new set-password link to enrol one


class VettingUpdate(msgspec.Struct, forbid_unknown_fields=True):
    status: str


class Vetting(msgspec.Struct):
    user_id: str
    vetted: bool
    checks: list[VettingItem]


class NewAgreement(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    title: Name
    body: Annotated[str, msgspec.Meta(max_length=100_000)]


class Agreement(msgspec.Struct):
    id: str
    kind: str
    version: int
    title: str
    published_at: str | None
    body: str = ""
    accepted_at: str | None = None


class Acceptance(msgspec.Struct):
    agreement_id: str
    accepted_current: bool


class Done(msgspec.Struct):
    ok: bool = True


def _link(settings: Settings, token: str) -> str:
    base = settings.invitation_url
    if base.startswith("/"):
        base = settings.issuer + base
    return f"{base}#token={token}"  # a fragment never reaches server logs or Referer headers


@post("/admin/users", tags=["admin"], status_code=201)
async def create_user(invitations: NamedDependency[Invitations], settings: NamedDependency[Settings],
                      caller: NamedDependency[Caller], data: Annotated[NewUser, Body()]) -> Invitation:
    """Create an account and its one-time set-password link (admins). Ordinary roles only, possibly none:
    admin and safeguarding are granted as their own step (`POST /admin/users/{id}/privileged-roles`)."""
    need(caller, "admin")
    user_id, token, expires = await invitations.invite(caller.sub, data.email, data.display_name, data.roles)
    return Invitation(user_id=user_id, invitation_url=_link(settings, token), expires_at=int(expires))


@get("/admin/users", tags=["admin"])
async def list_users(users: NamedDependency[Users], caller: NamedDependency[Caller],
                     role: Annotated[str | None, QueryParameter(max_length=32)] = None,
                     limit: Annotated[int, QueryParameter(ge=1, le=500)] = 200,
                     offset: Annotated[int, QueryParameter(ge=0)] = 0) -> list[User]:
    """Accounts, optionally by role (admins)."""
    need(caller, "admin")
    return msgspec.convert(await users.list_users(role, limit, offset), list[User])


@get("/admin/users/{user_id:str}", tags=["admin"])
async def get_user(users: NamedDependency[Users], caller: NamedDependency[Caller],
                   user_id: FromPath[str]) -> User:
    """One account with its vetting checklist (admins)."""
    need(caller, "admin")
    return msgspec.convert(await users.get_user(user_id), User)


@put("/admin/users/{user_id:str}/roles", tags=["admin"])
async def set_roles(account_admin: NamedDependency[AccountAdmin],
                    caller: NamedDependency[Caller], user_id: FromPath[str],
                    data: Annotated[Roles, Body()]) -> Roles:
    """Replace the user's roles (admins). Admin or safeguarding may be kept or removed but not added here
    (422): that is `POST /admin/users/{id}/privileged-roles`."""
    need(caller, "admin")
    return Roles(roles=await account_admin.set_roles(caller.sub, user_id, data.roles))


@post("/admin/users/{user_id:str}/privileged-roles", tags=["admin"], status_code=200)
async def grant_privileged(privileged: NamedDependency[PrivilegedRoles],
                           caller: NamedDependency[Caller], user_id: FromPath[str],
                           data: Annotated[PrivilegedGrant, Body()]) -> PrivilegedGrantResult:
    """Grant admin or safeguarding to one person, explicitly (admins, not to themselves): with a confirmation
    and the granting admin's current authenticator code. Audited; every other admin (and for safeguarding
    every other officer) is told in their inbox; the person's sessions end so the role is used only after
    a sign-in with a second factor. Works on invited accounts too: grant before sending the link."""
    need(caller, "admin")
    grant = await privileged.grant(caller.sub, user_id, data.role, confirm=data.confirm, totp_code=data.totp_code)
    return PrivilegedGrantResult(user_id=grant.user_id, role=grant.role, roles=grant.roles, granted=grant.granted,
                                 needs_new_link=grant.needs_new_link)


@post("/admin/users/{user_id:str}/invitation", tags=["admin"], status_code=201)
async def reissue_invitation(invitations: NamedDependency[Invitations], settings: NamedDependency[Settings],
                             caller: NamedDependency[Caller], user_id: FromPath[str]) -> Invitation:
    """A new set-password link; also resets the second factor (admins)."""
    need(caller, "admin")
    token, expires = await invitations.reissue(caller.sub, user_id)
    return Invitation(user_id=user_id, invitation_url=_link(settings, token), expires_at=int(expires))


@post("/admin/users/{user_id:str}/suspend", tags=["admin"], status_code=200)
async def suspend(account_admin: NamedDependency[AccountAdmin],
                  caller: NamedDependency[Caller], user_id: FromPath[str]) -> Done:
    """Suspend: every token and browser session of the user ends at once (admins)."""
    need(caller, "admin")
    await account_admin.suspend(caller.sub, user_id)
    return Done()


@post("/admin/users/{user_id:str}/reactivate", tags=["admin"], status_code=200)
async def reactivate(account_admin: NamedDependency[AccountAdmin], caller: NamedDependency[Caller],
                     user_id: FromPath[str]) -> Done:
    """Lift a suspension (admins)."""
    need(caller, "admin")
    await account_admin.reactivate(caller.sub, user_id)
    return Done()


class Erasure(msgspec.Struct):
    request_id: str


@post("/admin/users/{user_id:str}/erasure", tags=["admin"], status_code=202)
async def request_erasure(account_admin: NamedDependency[AccountAdmin], caller: NamedDependency[Caller],
                          user_id: FromPath[str]) -> Erasure:
    """Right to erasure: the gateway forgets the person now (sign-in ends at once) and asks every service
    to erase what it holds (`user.erasure_requested`) (admins)."""
    need(caller, "admin")
    if caller.sub == user_id:
        raise Forbidden("Ask another admin to erase your own account.")
    return Erasure(request_id=await account_admin.request_erasure(caller.sub, user_id))


@put("/admin/users/{user_id:str}/vetting/{item:str}", tags=["admin"])
async def record_vetting(vetting: NamedDependency[MentorVetting],
                         caller: NamedDependency[Caller], user_id: FromPath[str],
                         item: FromPath[str],
                         data: Annotated[VettingUpdate, Body()]) -> Vetting:
    """Record one mentor vetting check (professional_verification, references, interview, background_check)
    as pending, passed or failed; who and when are kept (admins)."""
    need(caller, "admin")
    return msgspec.convert(await vetting.record(caller.sub, user_id, item, data.status), Vetting)


@post("/admin/agreements", tags=["admin"], status_code=201)
async def publish_agreement(agreements: NamedDependency[Agreements], caller: NamedDependency[Caller],
                            data: Annotated[NewAgreement, Body()]) -> Agreement:
    """Publish a new version of a programme agreement (code_of_practice, confidentiality); everyone must
    accept it again (admins)."""
    need(caller, "admin")
    return msgspec.convert(await agreements.publish(caller.sub, data.kind, data.title, data.body), Agreement)


@get("/agreements", tags=["agreements"])
async def current_agreements(agreements: NamedDependency[Agreements],
                             caller: NamedDependency[Caller]) -> list[Agreement]:
    """The current version of each programme agreement, with the caller's acceptance."""
    return msgspec.convert(await agreements.current_for(caller.user_id), list[Agreement])


@post("/me/agreements/{agreement_id:str}/accept", tags=["me"], status_code=200)
async def accept_agreement(agreements: NamedDependency[Agreements], caller: NamedDependency[Caller],
                           agreement_id: FromPath[str]) -> Acceptance:
    """Accept the current version of an agreement (recorded with its time)."""
    user_id = need_user(caller)
    if len(agreement_id) != 32:
        raise NotFound("No such agreement.")
    return Acceptance(agreement_id=agreement_id,
                      accepted_current=await agreements.accept(user_id, agreement_id))


@get("/me", tags=["me"])
async def me(users: NamedDependency[Users], caller: NamedDependency[Caller]) -> User:
    """The signed-in user's account."""
    return msgspec.convert(await users.get_user(need_user(caller)), User)


@get("/me/second-factor", tags=["me"])
async def my_second_factor(second_factor: NamedDependency[SecondFactor], caller: NamedDependency[Caller]
                           ) -> SecondFactorStatus:
    """The signed-in user's authenticator: whether their roles need one, its state, and how many unused
    recovery codes they have."""
    status = await second_factor.status(need_user(caller))
    return SecondFactorStatus(required=status.required, state=status.state,
                              recovery_codes_left=status.recovery_codes_left)


@post("/me/recovery-codes", tags=["me"], status_code=201)
async def new_recovery_codes(second_factor: NamedDependency[SecondFactor], caller: NamedDependency[Caller],
                             data: Annotated[RegenerateRecoveryCodes, Body()]) -> RecoveryCodes:
    """New recovery codes for the signed-in user, after a fresh authenticator code (each code works once;
    wrong ones count toward a lockout). Every earlier recovery code stops working. Shown once."""
    return RecoveryCodes(codes=await second_factor.regenerate(need_user(caller), data.totp_code))


class TimeZone(msgspec.Struct, forbid_unknown_fields=True):
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["Europe/London"],
                                           description="An IANA time zone name, e.g. Europe/London.")]


@put("/me/time-zone", tags=["me"])
async def set_my_time_zone(users: NamedDependency[Users], runtime: NamedDependency[Runtime],
                           caller: NamedDependency[Caller], data: Annotated[TimeZone, Body()]) -> TimeZone:
    """Set the signed-in user's own time zone (any role): an IANA name such as Europe/London, else 400
    `invalid-time-zone`. The web app shows every time in it and reads typed times in it. Audited (ids only)."""
    user_id = need_user(caller)
    zone = await users.set_time_zone(user_id, data.time_zone)
    await runtime.auditor(user_id, "user.time_zone_change", f"user:{user_id}", "success")
    return TimeZone(time_zone=zone)


class Language(msgspec.Struct, forbid_unknown_fields=True):
    language: Annotated[Literal["en", "fr"], msgspec.Meta(description="en (English) or fr (French).")]


@put("/me/language", tags=["me"])
async def set_my_language(users: NamedDependency[Users], runtime: NamedDependency[Runtime],
                          caller: NamedDependency[Caller], data: Annotated[Language, Body()]) -> Language:
    """Set the signed-in user's own language for the web app and its messages (any role). Audited (ids only)."""
    user_id = need_user(caller)
    chosen = await users.set_language(user_id, data.language)
    await runtime.auditor(user_id, "user.language_change", f"user:{user_id}", "success")
    return Language(language=chosen)  # type: ignore[arg-type]


ROUTES = [create_user, list_users, get_user, set_roles, grant_privileged, reissue_invitation, suspend, reactivate,
          request_erasure, record_vetting,
          publish_agreement, current_agreements, accept_agreement, me, set_my_time_zone, set_my_language,
          my_second_factor, new_recovery_codes]
