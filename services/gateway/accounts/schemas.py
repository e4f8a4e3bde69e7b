"""Requests and answers of authenticator enrolment and recovery codes (the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from services.gateway.accounts.enrolment import Enrolment

TotpCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="A current 6-digit authenticator code.")]


class TotpEnrolment(msgspec.Struct):
    """A pending authenticator key: add it to an app, then confirm it with a code. Shown to its owner only."""

    secret: Annotated[str, msgspec.Meta(description="The key in base32, for typing into an app by hand.")]
    otpauth_uri: Annotated[str, msgspec.Meta(description="The otpauth:// link (opens an app on this device).")]
    qr_svg: Annotated[str, msgspec.Meta(description="The otpauth link as a QR code: an SVG document made by the "
                                                    "gateway (only <svg> and <path> elements, no text).")]
    confirm_by: Annotated[int, msgspec.Meta(description="Unix seconds: after this the key can no longer be "
                                                        "confirmed and a new set-password link is needed.")]

    @classmethod
    def of(cls, enrolment: Enrolment) -> TotpEnrolment:
        return cls(secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg,
                   confirm_by=int(enrolment.confirm_by))


class ResumeEnrolment(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=256)]


class ConfirmEnrolment(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=256)]
    totp_code: TotpCode


class RecoveryCodes(msgspec.Struct):
    """One-time codes that stand in for an authenticator code at sign-in. Shown once: only hashes are kept."""

    codes: list[str]


class RegenerateRecoveryCodes(msgspec.Struct, forbid_unknown_fields=True):
    totp_code: TotpCode


class SecondFactorStatus(msgspec.Struct):
    required: Annotated[bool, msgspec.Meta(description="The account's roles need a second factor.")]
    state: Annotated[Literal["none", "pending", "expired", "confirmed"],
                     msgspec.Meta(description="pending: set up but not confirmed with a code yet; expired: "
                                              "not confirmed in time (a new set-password link is needed).")]
    recovery_codes_left: int
