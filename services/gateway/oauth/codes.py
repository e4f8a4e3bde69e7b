"""The authorization endpoint's codes: one-time (GETDEL), bound to the client, the exact redirect URI, a
PKCE S256 challenge and the nonce. A replayed code revokes the token family it produced (RFC 6749
§4.1.2): whoever redeemed it first may be an attacker."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from services.gateway.accounts.credentials import token_hash
from services.gateway.accounts.users import Users, UserState
from services.gateway.oauth.clients import Client, Clients, OAuthError, parse_scope
from services.gateway.oauth.revocation import Revocation
from services.gateway.oauth.store import CodeGrant, OAuthStore
from shared.audit import Auditor
from shared.clock import EpochClock

PKCE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
CODE_KEPT_S = 30  # a code stays in Redis this long past its lifetime (its own `exp` decides)


@dataclass(eq=False)
class AuthorizationCodes:
    store: OAuthStore
    clients: Clients
    users: Users
    revocation: Revocation
    audit: Auditor
    lifetime_s: int  # how long a code may be redeemed
    clock: EpochClock

    async def check_client(self, params: Mapping[str, str]) -> Client:
        """Errors here are shown to the user, never redirected (the redirect target is not trusted)."""
        client = await self.clients.get(params.get("client_id"))
        if client is None:
            raise OAuthError("invalid_client", "Unknown client.")
        if "authorization_code" not in client.grant_types:
            raise OAuthError("unauthorized_client", "This client may not use the code grant.")
        redirect_uri = params.get("redirect_uri")
        # Exact string comparison: no prefix, pattern, or normalisation (OAuth 2.1 §2.3.1, §7.5.3).
        if not redirect_uri or redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is missing or not registered for this client.")
        return client

    @staticmethod
    def check_request(client: Client, params: Mapping[str, str]) -> list[str]:
        """Errors here are redirected back to the client with `error=`. Returns the scope."""
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "Only response_type=code is supported.")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if not challenge:
            raise OAuthError("invalid_request", "code_challenge is required (PKCE).")
        if method != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256.")
        if not PKCE.match(challenge) or len(challenge) != 43:
            raise OAuthError("invalid_request", "code_challenge is malformed.")
        scope = parse_scope(params.get("scope")) or ["openid"]
        if not set(scope) <= client.scope:
            raise OAuthError("invalid_scope", "A requested scope is not allowed for this client.")
        if len(params.get("nonce", "")) > 255 or len(params.get("state", "")) > 1024:
            raise OAuthError("invalid_request", "state or nonce too long.")
        return scope

    async def issue(self, client: Client, params: Mapping[str, str], scope: list[str], user_id: str, sid: str,
                    auth_time: float, amr: list[str] | None = None) -> str:
        code = secrets.token_urlsafe(32)
        grant = CodeGrant(client_id=client.client_id, redirect_uri=params["redirect_uri"], user_id=user_id, sid=sid,
                          scope=scope, challenge=params["code_challenge"], nonce=params.get("nonce"),
                          auth_time=int(auth_time), exp=self.clock() + self.lifetime_s, amr=amr or [])
        await self.store.put_code(token_hash(code), grant, self.lifetime_s + CODE_KEPT_S)
        await self.audit(user_id, "oauth.code_issue", f"client:{client.client_id}", "success")
        return code

    async def redeem(self, client: Client, form: Mapping[str, str]) -> tuple[UserState, CodeGrant, str]:
        """The token endpoint's code grant: the user, what the code stands for, and the new token family."""
        code, verifier, redirect_uri = form.get("code"), form.get("code_verifier"), form.get("redirect_uri")
        if not code or not redirect_uri:
            raise OAuthError("invalid_request", "code and redirect_uri are required.")
        if not verifier:
            raise OAuthError("invalid_request", "code_verifier is required (PKCE).")
        code_hash = token_hash(code)
        grant = await self.store.take_code(code_hash)
        if grant is None:
            family = await self.store.family_of_used_code(code_hash)
            if family is not None:
                # A replayed code: whoever redeemed it first may be an attacker; kill what it produced.
                await self.revocation.revoke_family(family, reason="code-replay")
                await self.audit(f"client:{client.client_id}", "oauth.code_replay", f"client:{client.client_id}",
                                 "denied")
            raise OAuthError("invalid_grant", "The authorization code is invalid, expired or already used.")
        # The code is spent whatever happens next: a failed attempt cannot be retried with another verifier.
        if grant.client_id != client.client_id or grant.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant", "The code was issued to another client or redirect_uri.")
        if self.clock() > grant.exp:
            raise OAuthError("invalid_grant", "The authorization code has expired.")
        if not PKCE.match(verifier) or not secrets.compare_digest(create_s256_code_challenge(verifier),
                                                                  grant.challenge):
            await self.audit(grant.user_id, "oauth.pkce", f"client:{client.client_id}", "failure")
            raise OAuthError("invalid_grant", "PKCE verification failed.")
        state = await self.users.state(grant.user_id)
        if state is None or not state.active or state.valid_after > grant.auth_time + 0.999:
            raise OAuthError("invalid_grant", "The user's session is no longer valid.")
        family = uuid.uuid4().hex
        await self.store.code_used(code_hash, family)
        return state, grant, family
