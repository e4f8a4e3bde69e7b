"""What authentication reads, as the stores offer it: the browser sessions (by shape), the accounts' user
state and the OAuth tokens (their key names and typed reads, wired in `context.py`). This feature imports
none of the stores, so every feature's controllers may import it; each store keeps its own key names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.gateway.auth.caller import BrowserSession


class UserState(Protocol):
    """What every authenticated request needs of a user."""

    @property
    def user_id(self) -> str: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def valid_after(self) -> float: ...  # sign-ins and tokens from before this are dead
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class UserStates:
    """The accounts' user-state cache in Redis: its key is `prefix` + user id."""

    prefix: str
    read: Callable[[str, bytes], UserState | None]  # a cached value, typed (None: no such user)
    state: Callable[[str], Awaitable[UserState | None]]  # from the cache, or the database on a miss


class SessionStore(Protocol):
    """Browser sessions in Redis."""

    idle_s: int
    absolute_s: int
    touch_s: float

    def hash(self, cookie: str) -> str: ...
    def key(self, key_hash: str) -> str: ...  # the Redis key of one session
    def read(self, key_hash: str, raw: bytes) -> BrowserSession: ...  # a stored value, typed
    async def get(self, cookie: str | None) -> BrowserSession | None: ...  # timeouts checked, `seen` refreshed
    async def touch(self, session: BrowserSession) -> None: ...  # seen now (idle timeout)
    async def delete(self, session: BrowserSession) -> None: ...


@dataclass(frozen=True)
class TokenStore:
    """OAuth access tokens: their signature, and the revocation marks in Redis."""

    issuer: str
    decode: Callable[[str], dict[str, Any] | None]  # signature, issuer, expiry; None if bad
    revocation_keys: Callable[[dict[str, Any]], Sequence[str]]  # any of them existing: the token is revoked
    service_client: Callable[[str], Awaitable[object | None]]  # None: no such client (any more)
