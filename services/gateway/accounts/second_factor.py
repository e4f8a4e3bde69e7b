"""Finishing authenticator enrolment, and recovery codes (enrolment.py holds the rules and storage).

- Resuming a pending enrolment (`pending`): with the account's password, the person sees the pending key
  again (QR code, key, link), e.g. after closing the page before entering a code. Only while the secret is
  pending and not expired: a confirmed secret is never shown again.
- Confirming (`confirm`): password and a current code of the pending secret. The secret becomes the
  account's second factor and ten recovery codes are issued, shown once.
- Recovery codes (`regenerate`): a signed-in user gets a new set after a fresh authenticator code; the old
  ones die. `status` says how many are left.

Wrong codes count toward the account's lockout like wrong sign-in codes (enrolment shares the sign-in key;
regeneration the step-up key of privileged grants). Audit lines say what happened, never a key or a code.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import RowMapping

from services.gateway.accounts.credentials import token_hash
from services.gateway.accounts.enrolment import (
    Enrolment,
    FactorState,
    enrolment,
    factor_state,
    new_recovery_codes,
    recovery_codes_left,
    replace_recovery_codes,
)
from services.gateway.accounts.signin import SignIn
from services.gateway.accounts.tables import users
from services.gateway.accounts.users import MFA_ROLES, at, epoch, roles_of
from shared.http import BadRequest, Conflict, Forbidden, Problem, TooManyRequests, retry_after

ENROL_ACTION = "auth.mfa_enrolment"  # audit actions
REGENERATE_ACTION = "auth.recovery_codes_regenerate"


class CodeRefused(BadRequest):
    slug = "totp-code-invalid"


@dataclass(frozen=True)
class FactorStatus:
    required: bool  # the account's roles need a second factor
    state: FactorState
    recovery_codes_left: int


@dataclass(eq=False)
class SecondFactor:
    signin: SignIn

    def _lifetime(self) -> float:
        return float(self.signin.settings.invitation_lifetime_s)

    async def _pending(self, email: str, password: str) -> tuple[RowMapping, str]:
        """The row of the account whose password this is, if its secret is pending (and its lockout key)."""
        row, roles, key = await self.signin.check_password(email, password)
        user_id = row["id"]
        state = factor_state(row, self.signin.users.clock(), self._lifetime())
        if state == "pending" and MFA_ROLES & set(roles):
            return row, key
        await self.signin.audit(user_id, ENROL_ACTION, f"user:{user_id}", "denied", reason=state)
        if state == "confirmed":
            raise Conflict("Your authenticator is set up already. Sign in with a code from it (or a recovery code).",
                           slug="mfa-enrolled")
        raise Problem("There is no authenticator set-up to finish (or it was not finished in time). Ask an admin "
                      "for a new set-password link.", slug="mfa-enrolment-unavailable")

    async def pending(self, email: str, password: str) -> Enrolment:
        """The pending key again, to add it to an app."""
        row, _ = await self._pending(email, password)
        secret = self.signin.sealer.open(row["totp_secret"]).decode()
        await self.signin.audit(row["id"], ENROL_ACTION, f"user:{row['id']}", "success", reason="resumed")
        return enrolment(secret, row["email"], self.signin.settings.totp_issuer,
                         epoch(row["totp_issued_at"]) + self._lifetime())

    async def confirm(self, email: str, password: str, code: str) -> list[str]:
        """Confirm the pending secret with a current code: it becomes the second factor. Returns the new
        recovery codes (shown once)."""
        row, key = await self._pending(email, password)
        user_id = row["id"]
        if not await self.signin.use_totp(user_id, row["totp_secret"], code):
            await self.signin.lockout.count(key)
            await self.signin.audit(user_id, ENROL_ACTION, f"user:{user_id}", "failure", reason="code")
            raise CodeRefused("The code is not correct. Enter the 6-digit code your authenticator app shows now.")
        codes = new_recovery_codes()
        now = at(self.signin.users.clock)
        async with self.signin.users.engine.begin() as conn:
            done = await conn.execute(sa.update(users).where(
                users.c.id == user_id, users.c.totp_status == "pending", users.c.totp_secret == row["totp_secret"]
            ).values(totp_status="confirmed", updated_at=now))
            if done.rowcount != 1:
                raise Conflict("Your account changed meanwhile. Sign in again.", slug="mfa-enrolment-changed")
            await replace_recovery_codes(conn, user_id, codes, now)
        await self.signin.lockout.clear(key)
        await self.signin.users.forget(user_id)
        await self.signin.audit(user_id, ENROL_ACTION, f"user:{user_id}", "success", reason="confirmed")
        return codes

    async def status(self, user_id: str) -> FactorStatus:
        async with self.signin.users.engine.connect() as conn:
            row = (await conn.execute(sa.select(users.c.totp_secret, users.c.totp_status, users.c.totp_issued_at)
                                      .where(users.c.id == user_id))).mappings().one()
            roles = await roles_of(conn, user_id)
            left = await recovery_codes_left(conn, user_id)
        state = factor_state(row, self.signin.users.clock(), self._lifetime())
        return FactorStatus(required=bool(MFA_ROLES & set(roles)), state=state,
                            recovery_codes_left=left if state == "confirmed" else 0)

    async def regenerate(self, user_id: str, code: str) -> list[str]:
        """New recovery codes after a fresh authenticator code; the old ones die."""
        key = token_hash(f"reauth:{user_id}")
        lockout = self.signin.lockout
        locked = await lockout.locked_for(key)
        if locked:
            await self.signin.audit(user_id, REGENERATE_ACTION, f"user:{user_id}", "denied", reason="locked")
            raise TooManyRequests("Too many wrong authenticator codes. Try again later.", slug="locked",
                                  headers=retry_after(locked))
        async with self.signin.users.engine.connect() as conn:
            row = (await conn.execute(sa.select(users.c.totp_secret, users.c.totp_status).where(
                users.c.id == user_id))).mappings().one()
        if row["totp_secret"] is None or row["totp_status"] != "confirmed":
            await self.signin.audit(user_id, REGENERATE_ACTION, f"user:{user_id}", "denied",
                                    reason="no-second-factor")
            raise Conflict("Recovery codes come with an authenticator app, and your account has none set up.",
                           slug="no-second-factor")
        if not await self.signin.use_totp(user_id, row["totp_secret"], code):
            await lockout.count(key)
            await self.signin.audit(user_id, REGENERATE_ACTION, f"user:{user_id}", "failure",
                                    reason="reauthentication")
            raise Forbidden("The authenticator code is not correct or was used already. Enter the current "
                            "6-digit code from your authenticator app.", slug="reauthentication-failed")
        await lockout.clear(key)
        codes = new_recovery_codes()
        async with self.signin.users.engine.begin() as conn:
            await replace_recovery_codes(conn, user_id, codes, at(self.signin.users.clock))
        await self.signin.audit(user_id, REGENERATE_ACTION, f"user:{user_id}", "success")
        return codes
