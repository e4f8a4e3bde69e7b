"""The authenticated caller, and the browser session it may come with (the value types every door shares)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from shared.http import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


@dataclass
class BrowserSession:
    """A signed-in browser (stored by `browser.sessions.BrowserSessions`)."""

    key: str  # SHA-256 of the cookie value
    user_id: str
    sid: str
    csrf: str
    created: float
    seen: float
    auth_time: float
    amr: list[str]

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf.encode(), (presented or "").encode())


@dataclass
class Caller:
    sub: str
    roles: tuple[str, ...]
    sid: str | None
    via: str  # "cookie" | "bearer" | "public" (anonymous reports routes)
    session: BrowserSession | None = None
    scope: str = ""

    @property
    def user_id(self) -> str | None:
        return None if self.sub.startswith("service:") else self.sub

    def has(self, *roles: str) -> bool:
        return bool(set(self.roles) & set(roles))


class CsrfFailed(Forbidden):
    slug = "csrf"


def need(caller: Caller, *roles: str) -> None:
    """403 unless the caller holds one of `roles`."""
    if not caller.has(*roles):
        raise Forbidden("Your role does not allow this.")


def need_user(caller: Caller) -> str:
    """The caller's user id; service accounts have no personal pages."""
    if caller.user_id is None:
        raise Forbidden("Service accounts cannot use this endpoint.")
    return caller.user_id


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header, or None."""
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip() or None
    return None
