"""Authenticator enrolment material and recovery codes.

A TOTP secret is *pending* from the moment it is issued (a set-password link used) until the person
enters a current code from their app; only then is it *confirmed* and a second factor at sign-in. A pending
secret lives as long as an invitation link (`invitation_lifetime_s`): the person can finish enrolment
with their password until then (sign-in says so), and afterwards needs a new link.

Recovery codes stand in for a lost phone: ten one-time codes issued at confirmation (and on request, after
a fresh authenticator code), shown once, kept only as hashes. Each is 16 characters of Crockford base32
from the CSPRNG: 80 bits. At that entropy a fast hash is enough: argon2's cost protects guessable secrets
such as passwords, while a 2^80 search stays out of reach whatever the hash costs. The user id goes into
the hash so that a row cannot be moved to another account. Codes are checked with a constant-time compare
against every unused hash of the account (at most ten) and spent with a conditional update, so two
requests carrying the same code cannot both pass.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import segno
import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.gateway.accounts.credentials import totp_uri
from services.gateway.accounts.tables import recovery_codes
from services.gateway.accounts.users import epoch

RECOVERY_CODE_COUNT = 10
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O or U to misread
_CODE_CHARS = 16  # 16 x 5 bits = 80 bits
_MISREAD = str.maketrans("OIL", "011")

FactorState = Literal["none", "pending", "expired", "confirmed"]


@dataclass(frozen=True)
class Enrolment:
    """What the person needs to add the secret to an app. Shown to them only; never logged."""

    secret: str
    uri: str
    qr_svg: str
    confirm_by: float  # epoch seconds: a pending secret is refused after this


def qr_svg(text: str) -> str:
    """`text` as a QR code in SVG, made here (no third party sees the secret). segno writes only <svg> and
    <path> elements with geometry: nothing of `text` appears as text in the markup."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", xmldecl=False, svgns=True, omitsize=True, border=4,
                                     dark="#000", light="#fff", svgclass="totp-qr", lineclass=None)
    return out.getvalue().decode()


def enrolment(secret: str, email: str, issuer: str, confirm_by: float) -> Enrolment:
    uri = totp_uri(secret, email, issuer)
    return Enrolment(secret=secret, uri=uri, qr_svg=qr_svg(uri), confirm_by=confirm_by)


def factor_state(row: RowMapping, now: float, lifetime_s: float) -> FactorState:
    """The account's second factor: none, pending (can still be confirmed), expired (pending too long) or
    confirmed. `row` is a users row."""
    if row["totp_secret"] is None:
        return "none"
    if row["totp_status"] == "confirmed":
        return "confirmed"
    return "pending" if epoch(row["totp_issued_at"]) + lifetime_s >= now else "expired"


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_CHARS))
        codes.append("-".join(raw[i:i + 4] for i in range(0, _CODE_CHARS, 4)))
    return codes


def _normalise(code: str) -> str | None:
    plain = code.upper().replace("-", "").replace(" ", "").translate(_MISREAD)
    if len(plain) != _CODE_CHARS or any(c not in _ALPHABET for c in plain):
        return None
    return plain


def _hash(user_id: str, plain: str) -> str:
    return hashlib.sha256(f"recovery:{user_id}:{plain}".encode()).hexdigest()


async def replace_recovery_codes(conn: AsyncConnection, user_id: str, codes: list[str], now: datetime) -> None:
    """The account's recovery codes become `codes`; every earlier one dies."""
    await conn.execute(sa.delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    rows = []
    for code in codes:
        plain = _normalise(code)
        assert plain is not None  # noqa: S101 - we made it
        rows.append({"id": uuid.uuid4().hex, "user_id": user_id, "code_hash": _hash(user_id, plain),
                     "created_at": now})
    await conn.execute(sa.insert(recovery_codes), rows)


async def drop_recovery_codes(conn: AsyncConnection, user_id: str) -> None:
    await conn.execute(sa.delete(recovery_codes).where(recovery_codes.c.user_id == user_id))


async def recovery_codes_left(conn: AsyncConnection, user_id: str) -> int:
    return int((await conn.execute(sa.select(sa.func.count()).select_from(recovery_codes).where(
        recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)))).scalar_one())


async def use_recovery_code(engine: AsyncEngine, user_id: str, code: str, now: datetime) -> bool:
    """Whether `code` is one of the account's unused recovery codes; using it spends it."""
    plain = _normalise(code)
    candidate = _hash(user_id, plain or "")
    async with engine.begin() as conn:
        rows = (await conn.execute(sa.select(recovery_codes.c.id, recovery_codes.c.code_hash).where(
            recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)))).all()
        match = None
        for row in rows:  # every row compared, in constant time each
            if secrets.compare_digest(row.code_hash, candidate):
                match = row.id
        if plain is None or match is None:
            return False
        spent = await conn.execute(sa.update(recovery_codes).where(recovery_codes.c.id == match,
                                                                   recovery_codes.c.used_at.is_(None))
                                   .values(used_at=now))
        return spent.rowcount == 1
