"""The token endpoint: the code grant (with PKCE), the refresh grant, client credentials; and the tokens
it issues. Access tokens are short-lived JWTs (RFC 9068); ID tokens go with the `openid` scope.

Refresh tokens are opaque, stored hashed, rotated on every use, one family per sign-in. Using a spent one
revokes the family, except within `refresh_grace_s` of its first use, when the same new pair is returned
again (a client retrying after a lost response must not lose the session). That pair sits in Redis for
the grace window only, encrypted under a key derived from the old refresh token."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from services.gateway.accounts.credentials import token_hash
from services.gateway.accounts.users import Users
from services.gateway.config import Settings
from services.gateway.keys.service import KeyRing
from services.gateway.oauth.clients import GRANT_TYPES, Client, OAuthError, parse_scope
from services.gateway.oauth.codes import AuthorizationCodes
from services.gateway.oauth.revocation import Revocation
from services.gateway.oauth.store import OAuthStore
from shared.audit import Auditor
from shared.clock import EpochClock

GRACE_WAIT_S = 0.05  # a retry polls this often (20 times) for the first use's response


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _grace_cipher(refresh_token: str) -> Fernet:
    # Only a holder of the old refresh token can read the cached pair.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"tandem-refresh-grace:" + refresh_token.encode())
                                           .digest()))


@dataclass(eq=False)
class Tokens:
    """Issues tokens for the grants a client may use."""

    codes: AuthorizationCodes  # the code grant redeems their codes
    revocation: Revocation  # a reused refresh token revokes its family
    store: OAuthStore
    keys: KeyRing  # the token signing keys
    users: Users
    audit: Auditor
    settings: Settings
    clock: EpochClock

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    async def token(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant not in GRANT_TYPES:
            raise OAuthError("unsupported_grant_type", "Unsupported grant type.")
        if grant not in client.grant_types:
            raise OAuthError("unauthorized_client", "This client may not use this grant.")
        if grant == "authorization_code":
            return await self._code_grant(client, form)
        if grant == "refresh_token":
            return await self._refresh_grant(client, form)
        return await self._client_credentials(client, form)

    async def _code_grant(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        state, code, family = await self.codes.redeem(client, form)
        response = await self._issue(client, state.user_id, state.roles, code.scope, code.sid, family, code.auth_time,
                                     nonce=code.nonce, amr=code.amr)
        await self.audit(state.user_id, "oauth.token_issue", f"client:{client.client_id}", "success",
                         reason="authorization_code")
        return response

    async def _client_credentials(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        scope = parse_scope(form.get("scope")) or sorted(client.scope - {"openid", "offline_access"})
        if not set(scope) <= client.scope or "openid" in scope or "offline_access" in scope:
            raise OAuthError("invalid_scope", "A requested scope is not allowed for this client.")
        now = int(self.clock())
        access = self._access_token(f"service:{client.client_id}", ("service",), client.client_id, scope, None, None,
                                    now)
        await self.audit(f"service:{client.client_id}", "oauth.token_issue", f"client:{client.client_id}", "success",
                         reason="client_credentials")
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.settings.access_token_lifetime_s,
                "scope": " ".join(scope)}

    def _access_token(self, sub: str, roles: tuple[str, ...], client_id: str, scope: list[str], sid: str | None,
                      family: str | None, now: int) -> str:
        claims: dict[str, Any] = {"iss": self.issuer, "sub": sub, "aud": self.issuer, "client_id": client_id,
                                  "scope": " ".join(scope), "roles": list(roles), "iat": now,
                                  "exp": now + self.settings.access_token_lifetime_s, "jti": uuid.uuid4().hex}
        if sid:
            claims["sid"] = sid
        if family:
            claims["fam"] = family
        return self.keys.sign(claims, typ="at+jwt")

    async def _issue(self, client: Client, user_id: str, roles: tuple[str, ...], scope: list[str], sid: str | None,
                     family: str, auth_time: int, *, nonce: str | None = None, family_expires: float | None = None,
                     amr: list[str] | None = None) -> dict[str, Any]:
        now = int(self.clock())
        access = self._access_token(user_id, roles, client.client_id, scope, sid, family, now)
        response: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                    "expires_in": self.settings.access_token_lifetime_s, "scope": " ".join(scope)}
        if "refresh_token" in client.grant_types:
            token = secrets.token_urlsafe(32)
            await self.store.add_refresh(token_hash(token), family=family, user_id=user_id, client_id=client.client_id,
                                         scope=" ".join(scope), sid=sid, auth_time=auth_time, now=now,
                                         expires=family_expires or (now + self.settings.refresh_token_lifetime_s))
            response["refresh_token"] = token
        if "openid" in scope:
            digest = hashlib.sha256(access.encode()).digest()
            id_claims: dict[str, Any] = {"iss": self.issuer, "sub": user_id, "aud": client.client_id,
                                         "azp": client.client_id, "iat": now,
                                         "exp": now + self.settings.id_token_lifetime_s, "auth_time": auth_time,
                                         "at_hash": _b64(digest[:16])}
            if nonce:
                id_claims["nonce"] = nonce
            if amr:  # how the person signed in (pwd, otp): relying parties may require a second factor
                id_claims["amr"] = amr
            if sid:
                id_claims["sid"] = sid
            response["id_token"] = self.keys.sign(id_claims)
        return response

    async def _refresh_grant(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is required.")
        key = token_hash(token)
        invalid = OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.")
        now = self.clock()
        row = await self.store.refresh_token(key)
        if row is None or row.client_id != client.client_id or row.revoked_at is not None:
            raise invalid
        if row.used_at is not None or not await self.store.claim_refresh(key, now):
            used_at = row.used_at if row.used_at is not None else now
            if now - used_at <= self.settings.refresh_grace_s:
                cached = await self._grace_pair(key, token)
                if cached is not None:
                    await self.audit(row.user_id, "oauth.token_refresh", f"client:{client.client_id}", "success",
                                     reason="grace-retry")
                    return cached
            await self.revocation.revoke_family(row.family_id, reason="refresh-reuse")
            await self.audit(row.user_id, "oauth.refresh_reuse_detected", f"family:{row.family_id}", "denied")
            raise invalid
        if row.expires_at < now:
            raise invalid
        state = await self.users.state(row.user_id)
        if state is None or not state.active or row.created_at < state.valid_after:
            raise invalid
        scope = row.scope.split()
        requested = parse_scope(form.get("scope"))
        if requested:
            if not set(requested) <= set(scope):
                raise OAuthError("invalid_scope", "A refresh cannot widen the scope.")
            scope = requested
        response = await self._issue(client, row.user_id, state.roles, scope, row.sid, row.family_id, row.auth_time,
                                     family_expires=row.expires_at)
        if self.settings.refresh_grace_s > 0:
            sealed = _grace_cipher(token).encrypt(json.dumps(response).encode())
            await self.store.put_grace(key, sealed, int(self.settings.refresh_grace_s * 1000) + 1000)
        await self.audit(row.user_id, "oauth.token_refresh", f"client:{client.client_id}", "success")
        return response

    async def _grace_pair(self, key: str, token: str) -> dict[str, Any] | None:
        # The first use may still be writing its response: wait a moment for it.
        for _ in range(20):
            sealed = await self.store.grace(key)
            if sealed is not None:
                try:
                    return json.loads(_grace_cipher(token).decrypt(sealed))  # type: ignore[no-any-return]
                except InvalidToken:
                    return None
            await asyncio.sleep(GRACE_WAIT_S)
        return None
