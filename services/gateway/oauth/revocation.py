"""Revocation: of one token family (a replayed code, a reused refresh token, a logout), of every token of
a user (suspension, logout everywhere: `Users.on_revoke`), of the tokens issued through one browser
session, and RFC 7009 revocation by a client. A revoked family's access tokens die too (a mark in Redis
for as long as they could live); `on_token_revoked` hears the subject of every revocation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.gateway.accounts.credentials import token_hash
from services.gateway.oauth.access import AccessTokens
from services.gateway.oauth.clients import Client
from services.gateway.oauth.store import OAuthStore
from shared.audit import Auditor
from shared.clock import EpochClock
from shared.logging import get_logger

log = get_logger("tandem.gateway.oauth")

MARK_SLACK_S = 120  # a family's revocation mark outlives its last access token by this much


@dataclass(eq=False)
class Revocation:
    store: OAuthStore
    access: AccessTokens
    audit: Auditor
    access_token_lifetime_s: int
    clock: EpochClock
    on_token_revoked: list[Callable[[str], Awaitable[Any]]] = field(default_factory=list, init=False)  # the subject

    @property
    def mark_ttl_s(self) -> int:
        return self.access_token_lifetime_s + MARK_SLACK_S

    async def _revoked(self, subject: str) -> None:
        for revoked in self.on_token_revoked:
            await revoked(subject)

    async def revoke_family(self, family: str, *, reason: str) -> None:
        await self.store.revoke_refresh_family(family, self.clock())
        owner = await self.store.family_owner(family)
        # Access tokens of the family die too (they live at most access_token_lifetime_s).
        await self.store.revoke_families([family], reason, self.mark_ttl_s)
        if owner is not None:
            await self._revoked(owner)
        log.info("oauth.family_revoked", family=family, cause=reason)

    async def revoke_user(self, user_id: str) -> None:
        """Suspension and logout everywhere: every refresh token of the user dies now."""
        families = await self.store.revoke_refresh_of_user(user_id, self.clock())
        await self.store.revoke_families(families, "user", self.mark_ttl_s)
        if families:
            await self.audit("gateway", "oauth.token_revoke", f"user:{user_id}", "success",
                             reason=f"{len(families)} families")

    async def revoke_sid(self, sid: str) -> None:
        """The tokens issued through one browser session (logout)."""
        for family in await self.store.families_of_sid(sid):
            await self.revoke_family(family, reason="logout")

    async def revoke(self, client: Client, token: str) -> None:
        """RFC 7009: revoke a refresh token (its whole family) or an access token; unknown → no-op."""
        row = await self.store.refresh_token(token_hash(token))
        if row is not None:
            if row.client_id == client.client_id:
                await self.revoke_family(row.family_id, reason="revoked")
                await self.audit(row.user_id, "oauth.token_revoke", f"family:{row.family_id}", "success")
            return
        claims = self.access.decode(token)
        if claims is not None and claims.get("client_id") == client.client_id:
            ttl = max(1, int(claims["exp"] - self.clock()) + 60)
            await self.store.revoke_token(str(claims.get("jti")), ttl)
            await self._revoked(str(claims.get("sub")))
            await self.audit(str(claims.get("sub")), "oauth.token_revoke", f"client:{client.client_id}", "success")
