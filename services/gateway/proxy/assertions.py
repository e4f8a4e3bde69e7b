"""Identity assertions for proxied requests, minted one request ahead for a caller in a burst.

Every proxied request carries an assertion of its own (own `jti`, used for that request only). Signing it
(Ed25519 through joserfc, ~70 µs here) is the largest piece of the gateway's own work on a request's way
in. A caller that reached the same service a moment ago is likely in a burst (a page load fires several
API calls), so for such a caller the next assertion is signed once this request's response is out, off
the request's path, and the next request takes it ready.

What does not change:
- each assertion is handed out once, then gone;
- it is handed out only after the request passed the same authorization as before, and only when it was
  minted for exactly that identity (sub, roles, sid), audience and current signing key, so a changed
  role, another session or a rotated key never matches;
- one minted more than `max_age_s` ago is thrown away, so a service always gets at least
  `lifetime - max_age_s` seconds of validity (5 of 30 by default), and `iat` is never in the future;
- any revocation announced to the proxy's credential cache (suspension, logout, role change, token
  revoked, here or on another instance) drops every assertion minted before it.

Only callers seen twice within `max_age_s` get one minted ahead, so a lone request costs one signature,
as before; a burst costs one spare signature at its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.gateway.core import Caller
    from services.gateway.revocation import AuthCache

MAX_ENTRIES = 10_000

_Key = tuple[str, tuple[str, ...], str | None, str, str]


class AssertionMinter:
    def __init__(self, mint: Callable[[Caller, str], str], kid: Callable[[], str], clock: Callable[[], float],
                 cache: AuthCache, *, max_age_s: float) -> None:
        self._mint = mint
        self._kid = kid
        self._clock = clock
        self._cache = cache
        self.max_age_s = max_age_s
        self._ready: dict[_Key, tuple[float, str]] = {}  # key -> (minted at, assertion)
        self._seen: dict[_Key, float] = {}
        self._due: dict[_Key, tuple[Caller, str]] = {}
        self._generation = cache.generation

    def take(self, caller: Caller, audience: str) -> str:
        """The assertion for this request: the one minted ahead for exactly this caller when still fresh,
        otherwise a new one. Call only once the request is authorized."""
        if self.max_age_s <= 0:
            return self._mint(caller, audience)
        now = self._clock()
        if self._generation != self._cache.generation:  # a revocation was announced: drop everything minted
            self._generation = self._cache.generation
            self._ready.clear()
        key: _Key = (caller.sub, caller.roles, caller.sid, audience, self._kid())
        ready = self._ready.pop(key, None)
        if ready is not None and 0 <= now - ready[0] <= self.max_age_s:
            token = ready[1]
        else:
            token = self._mint(caller, audience)
        last = self._seen.get(key)
        if len(self._seen) >= MAX_ENTRIES:
            self._seen.clear()
        self._seen[key] = now
        if last is not None and 0 <= now - last <= self.max_age_s:
            if len(self._due) >= MAX_ENTRIES:
                self._due.clear()
            self._due[key] = (caller, audience)
        return token

    def mint_due(self) -> None:
        """Mint the assertions `take()` found due, once the loop is free. The proxy calls this when a
        request's response is out: signing while the request waits for its service only competed with
        that service for the CPU (on a small machine the scheduler often runs both on one core)."""
        if self._due:
            due, self._due = self._due, {}
            asyncio.get_running_loop().call_soon(self._ahead_all, due)

    def _ahead_all(self, due: dict[_Key, tuple[Caller, str]]) -> None:
        for key, (caller, audience) in due.items():
            self._ahead(key, caller, audience)

    def _ahead(self, key: _Key, caller: Caller, audience: str) -> None:
        if key in self._ready:
            return
        now = self._clock()
        try:
            token = self._mint(caller, audience)
        except Exception:  # noqa: BLE001 - e.g. no active key: the request that needs one mints it and fails
            return
        if len(self._ready) >= MAX_ENTRIES:  # callers that went quiet: drop what is too old to use
            self._ready = {k: v for k, v in self._ready.items() if now - v[0] <= self.max_age_s}
            if len(self._ready) >= MAX_ENTRIES:
                self._ready.clear()
        self._ready[key] = (now, token)

    def pending(self) -> int:
        """Assertions minted ahead and not yet taken (for tests and metrics)."""
        return len(self._ready)
