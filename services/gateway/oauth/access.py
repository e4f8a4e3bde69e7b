"""Access tokens as they come back: JWTs this gateway signed (RFC 9068, `typ: at+jwt`, ES256), checked on
every use for their signature, issuer and expiry, their revocation (by `jti`, by family: `store`), and
their user's `tokens_valid_after` (suspension, logout everywhere). Also introspection (RFC 7662) and the
OIDC UserInfo answer."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from services.gateway.accounts.credentials import token_hash
from services.gateway.accounts.users import Users
from services.gateway.auth import rules
from services.gateway.keys.service import KeyRing
from services.gateway.oauth.clients import Client, Clients
from services.gateway.oauth.store import OAuthStore
from shared.clock import EpochClock
from shared.http import Unauthorized

VERIFIED_CACHE_SIZE = 4096  # access tokens whose signature was checked once (see `decode`)


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    roles: tuple[str, ...]
    sid: str | None
    client_id: str
    scope: str
    claims: dict[str, Any]


@dataclass(eq=False)
class AccessTokens:
    """Reads the access tokens clients present (and refresh tokens, for introspection)."""

    keys: KeyRing  # the token signing keys
    store: OAuthStore
    clients: Clients
    users: Users
    issuer: str
    clock: EpochClock
    _verified: OrderedDict[str, tuple[str, dict[str, Any]]] = field(default_factory=OrderedDict, init=False)

    def decode(self, token: str, *, verify_exp: bool = True) -> dict[str, Any] | None:
        """Signature, issuer and (optionally) expiry of a token this gateway signed; None if bad."""
        if not token or len(token) > 4096 or token.count(".") != 2:
            return None
        # A token presented again (every API call of a client) skips the ECDSA check it already passed,
        # as long as the key that signed it is still published; expiry is checked on every call.
        hit = self._verified.get(token)
        if hit is not None and self.keys.publishes(hit[0]):
            self._verified.move_to_end(token)
            claims = hit[1]
        else:
            try:
                decoded = jwt.decode(token, self.keys.verification_keys(), algorithms=["ES256"])
            except (JoseError, ValueError):
                return None
            claims = decoded.claims
            if claims.get("iss") != self.issuer or not isinstance(claims.get("exp"), int):
                return None
            self._verified[token] = (str(decoded.header.get("kid", "")), dict(claims))
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        if verify_exp and claims["exp"] <= self.clock():
            return None
        return dict(claims)

    async def check(self, token: str) -> AccessClaims | None:
        """Who a presented access token speaks for, or None (bad, expired, revoked, or its user's sign-ins
        ended after it was issued)."""
        try:  # the rules every door applies (`auth.rules`), read here without the proxy's memory
            claims = rules.usable_claims(self.decode(token), self.issuer)
            revoked = await self.store.is_revoked(claims)
            sub = str(claims.get("sub", ""))
            client = state = None
            if revoked:
                pass
            elif sub.startswith("service:"):
                client = await self.clients.recent(sub.removeprefix("service:"))
            else:
                state = await self.users.state(sub)
            caller = rules.token_caller(claims, revoked=revoked, state=state, client_known=client is not None)
        except Unauthorized:
            return None
        return AccessClaims(sub=caller.sub, roles=caller.roles, sid=caller.sid,
                            client_id=client.client_id if client is not None else str(claims["client_id"]),
                            scope=caller.scope, claims=claims)

    async def introspect(self, client: Client, token: str) -> dict[str, Any]:
        """RFC 7662: an access token, or a refresh token of `client`."""
        checked = await self.check(token)
        if checked is not None:
            c = checked.claims
            return {"active": True, "scope": checked.scope, "client_id": checked.client_id, "sub": checked.sub,
                    "token_type": "Bearer", "exp": c["exp"], "iat": c["iat"], "iss": c["iss"], "aud": c["aud"],
                    "jti": c.get("jti"), "roles": list(checked.roles)}
        row = await self.store.refresh_token(token_hash(token))
        if row is None or row.client_id != client.client_id or row.used_at is not None or row.revoked_at is not None \
                or row.expires_at < self.clock():
            return {"active": False}
        state = await self.users.state(row.user_id)
        if state is None or not state.active or row.created_at < state.valid_after:
            return {"active": False}
        return {"active": True, "scope": row.scope, "client_id": row.client_id, "sub": row.user_id,
                "token_type": "refresh_token", "exp": int(row.expires_at), "iat": int(row.created_at),
                "iss": self.issuer}

    async def userinfo(self, checked: AccessClaims) -> dict[str, Any]:
        contact = await self.users.contact(checked.sub)
        info: dict[str, Any] = {"sub": checked.sub, "roles": list(checked.roles)}
        scopes = checked.scope.split()
        if contact is not None and "email" in scopes:
            info["email"] = contact.email
            info["email_verified"] = True
        if contact is not None and "profile" in scopes:
            info["name"] = contact.display_name
        return info
