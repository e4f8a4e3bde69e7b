"""Sign-in through an upstream OpenID provider (Authlib's OAuth client, code + PKCE + nonce).

The upstream proves who the person is; Tandem still decides what they may do: the account is matched
by verified e-mail address (or created, if provisioning is on), its roles come from the upstream claim
through GATEWAY_FEDERATION_ROLE_MAP, and admin/safeguarding still need a second factor, which the
upstream must assert (`amr` containing otp/mfa/hwk/swk). State, nonce and verifier live in Redis for
ten minutes, bound to one browser round trip.
"""

from __future__ import annotations

import json
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis

from services.gateway.accounts.signin import SignIn
from services.gateway.accounts.users import USER_ROLES, UserState
from services.gateway.config import Settings
from shared.http import Forbidden, Problem
from shared.logging import get_logger

with warnings.catch_warnings():
    # Authlib 1.9 nudges towards `httpx2`, which is not installed; its httpx client works.
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

log = get_logger("tandem.gateway.federation")
STRONG_AMR = frozenset({"otp", "mfa", "hwk", "swk", "fido"})


class FederationFailed(Problem):
    status_code, slug = 400, "federation-failed"


@dataclass
class Upstream:
    metadata: dict[str, Any]
    keys: KeySet
    fetched: float


class Federation:
    def __init__(self, settings: Settings, redis: Redis, signin: SignIn) -> None:
        self.settings = settings
        self.redis = redis
        self.signin = signin
        self.redirect_uri = f"{settings.issuer}/auth/federated/callback"
        self._upstream: Upstream | None = None
        self.role_map = dict(pair.split("=", 1) for pair in settings.federation_role_map if "=" in pair)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.federation_issuer and self.settings.federation_client_id)

    async def upstream(self) -> Upstream:
        if self._upstream is None or time.monotonic() - self._upstream.fetched > 3600:
            base = self.settings.federation_issuer.rstrip("/")
            async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
                meta = (await client.get(f"{base}/.well-known/openid-configuration")).raise_for_status().json()
                if meta.get("issuer") != self.settings.federation_issuer:
                    raise FederationFailed("The upstream provider's metadata names another issuer.")
                jwks = (await client.get(meta["jwks_uri"])).raise_for_status().json()
            self._upstream = Upstream(meta, KeySet.import_key_set(jwks), time.monotonic())
        return self._upstream

    def _client(self, **kw: Any) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(client_id=self.settings.federation_client_id,
                                 client_secret=self.settings.federation_client_secret or None,
                                 redirect_uri=self.redirect_uri, scope="openid email profile",
                                 code_challenge_method="S256", timeout=10, trust_env=False, **kw)

    async def start(self, return_to: str) -> str:
        """The upstream authorization URL for a fresh state/nonce/verifier."""
        upstream = await self.upstream()
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        async with self._client() as client:
            url, state = client.create_authorization_url(upstream.metadata["authorization_endpoint"],
                                                         code_verifier=verifier, nonce=nonce)
        await self.redis.set(f"gw:fed:{state}", json.dumps({"verifier": verifier, "nonce": nonce,
                                                            "return_to": return_to}), ex=600)
        return str(url)

    async def finish(self, state: str, code: str) -> tuple[UserState, list[str], str]:
        """Exchange the code, verify the ID token, map the person to an active account."""
        raw = await self.redis.getdel(f"gw:fed:{state}")
        if raw is None:
            raise FederationFailed("The sign-in attempt expired or was already used. Start again.")
        pending = json.loads(raw)
        upstream = await self.upstream()
        try:
            async with self._client() as client:
                token = await client.fetch_token(upstream.metadata["token_endpoint"], code=code,
                                                 grant_type="authorization_code",
                                                 code_verifier=pending["verifier"])
                info = (await client.get(upstream.metadata["userinfo_endpoint"])).raise_for_status().json()
        except (OAuthError, httpx.HTTPError, ValueError, KeyError):
            log.info("federation.exchange_failed")
            raise FederationFailed("The upstream provider did not confirm the sign-in.") from None
        claims = self._verify_id_token(upstream, token.get("id_token", ""), pending["nonce"])
        if info.get("sub") != claims.get("sub"):
            raise FederationFailed("The upstream answers disagree.")
        email = info.get("email") or claims.get("email")
        if not isinstance(email, str) or info.get("email_verified") is False:
            raise FederationFailed("The upstream provider did not give a verified e-mail address.")
        upstream_roles = info.get(self.settings.federation_roles_claim) or claims.get(
            self.settings.federation_roles_claim) or []
        roles = sorted({self.role_map.get(r, r) for r in upstream_roles if isinstance(r, str)} & USER_ROLES)
        amr = [a for a in claims.get("amr", []) if isinstance(a, str)]
        strong = bool(STRONG_AMR & set(amr))
        try:
            state_ = await self.signin.federated_user(email, str(info.get("name") or "Member"), roles,
                                                      provision=self.settings.federation_provision,
                                                      strong_auth=strong)
        except Forbidden:
            # The provider's subject is its own account id (an e-mail address at some providers): not ours to log.
            await self.signin.audit("upstream:unknown", "auth.mfa", "user:federated", "denied",
                                    reason="federated-without-mfa")
            raise
        await self.signin.audit(state_.user_id, "auth.login", f"user:{state_.user_id}", "success",
                                reason="federated")
        return state_, ["fed", *amr], pending["return_to"]

    def _verify_id_token(self, upstream: Upstream, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(id_token, upstream.keys, algorithms=["ES256", "RS256", "EdDSA", "Ed25519"])
            registry = jwt.JWTClaimsRegistry(
                leeway=30, iss={"essential": True, "value": self.settings.federation_issuer},
                aud={"essential": True, "value": self.settings.federation_client_id},
                sub={"essential": True}, exp={"essential": True}, nonce={"essential": True, "value": nonce})
            registry.validate(decoded.claims)
        except (JoseError, ValueError):
            raise FederationFailed("The upstream ID token did not verify.") from None
        return dict(decoded.claims)
