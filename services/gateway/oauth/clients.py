"""OAuth clients: registration, lookup, and client authentication at the token, revocation and
introspection endpoints (client_secret_basic, client_secret_post, or `none` for public clients with PKCE).
Also what every part of the authorization server shares: its errors, scopes and grant types."""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.accounts.credentials import token_hash
from services.gateway.oauth.tables import oauth_clients
from shared.audit import Auditor
from shared.clock import EpochClock

SCOPES = frozenset({"openid", "profile", "email", "offline_access", "api"})
GRANT_TYPES = frozenset({"authorization_code", "refresh_token", "client_credentials"})
CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CLIENT_CACHE_S = 10.0
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")


class OAuthError(Exception):
    """An RFC 6749 §5.2 error (or §4.1.2.1 when redirected)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def parse_scope(raw: str | None) -> list[str]:
    return [s for s in (raw or "").split(" ") if s]


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: frozenset[str]
    scope: frozenset[str]

    @property
    def confidential(self) -> bool:
        return self.secret_hash is not None


def _check_registration(redirect_uris: list[str], post_logout_redirect_uris: list[str], grant_types: list[str],
                        scope: list[str], confidential: bool) -> None:
    if not set(grant_types) <= GRANT_TYPES or not grant_types:
        raise ValueError("unknown grant type")
    if not set(scope) <= SCOPES:
        raise ValueError("unknown scope")
    if "client_credentials" in grant_types and not confidential:
        raise ValueError("client credentials need a confidential client")
    if "authorization_code" in grant_types and not redirect_uris:
        raise ValueError("the code grant needs at least one redirect URI")
    for uri in (*redirect_uris, *post_logout_redirect_uris):
        if not uri.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")) or "#" in uri:
            raise ValueError(f"redirect URIs must be https (or loopback http) without fragment: {uri}")


@dataclass(eq=False)
class Clients:
    engine: AsyncEngine
    audit: Auditor
    clock: EpochClock
    _recent: dict[str, tuple[float, Client | None]] = field(default_factory=dict, init=False)

    async def create(self, *, name: str, redirect_uris: list[str], post_logout_redirect_uris: list[str],
                     grant_types: list[str], scope: list[str], confidential: bool, client_id: str | None = None,
                     secret: str | None = None) -> tuple[str, str | None]:
        """Register a client; a confidential one gets a random secret unless the operator supplies one
        (a deployment that provisions the secret file first, e.g. the recorder's). Raises ValueError."""
        _check_registration(redirect_uris, post_logout_redirect_uris, grant_types, scope, confidential)
        client_id = client_id or uuid.uuid4().hex
        if not CLIENT_ID.match(client_id):
            raise ValueError("client ids are 1-64 of A-Z a-z 0-9 . _ -")
        if secret is not None and (not confidential or len(secret) < 32):
            raise ValueError("a supplied client secret needs a confidential client and at least 32 characters")
        secret = (secret or secrets.token_urlsafe(32)) if confidential else None
        try:
            async with self.engine.begin() as conn:
                await conn.execute(sa.insert(oauth_clients).values(
                    client_id=client_id, name=name, secret_hash=token_hash(secret) if secret else None,
                    redirect_uris=json.dumps(redirect_uris), post_logout_redirect_uris=json.dumps(
                        post_logout_redirect_uris), grant_types=json.dumps(sorted(grant_types)),
                    scope=" ".join(sorted(scope)), created_at=datetime.fromtimestamp(self.clock(), UTC),
                    disabled=False))
        except IntegrityError:
            raise ValueError("client id taken") from None
        return client_id, secret

    async def get(self, client_id: str | None) -> Client | None:
        """The registered, enabled client."""
        if not client_id or not CLIENT_ID.match(client_id):
            return None
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(oauth_clients).where(oauth_clients.c.client_id == client_id,
                                                                     oauth_clients.c.disabled.is_(False)))).first()
        if row is None:
            return None
        return Client(client_id=row.client_id, name=row.name, secret_hash=row.secret_hash,
                      redirect_uris=tuple(json.loads(row.redirect_uris)),
                      post_logout_redirect_uris=tuple(json.loads(row.post_logout_redirect_uris)),
                      grant_types=frozenset(json.loads(row.grant_types)), scope=frozenset(row.scope.split()))

    async def recent(self, client_id: str) -> Client | None:
        """`get`, remembered for CLIENT_CACHE_S: for the per-request checks of service tokens (a disabled
        client's tokens stop within that time)."""
        now = self.clock()
        hit = self._recent.get(client_id)
        if hit is not None and now - hit[0] < CLIENT_CACHE_S:
            return hit[1]
        client = await self.get(client_id)
        if len(self._recent) > 1000:
            self._recent.clear()
        self._recent[client_id] = (now, client)
        return client

    async def authenticate(self, form: Mapping[str, str], authorization: str | None) -> Client:
        """client_secret_basic, client_secret_post, or `none` (public clients, PKCE)."""
        basic_id = basic_secret = None
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "basic":
                raise OAuthError("invalid_client", "Unsupported client authentication.", 401)
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
                raw_id, _, raw_secret = decoded.partition(":")
                basic_id, basic_secret = unquote(raw_id), unquote(raw_secret)
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "Malformed client credentials.", 401) from None
            if "client_secret" in form:
                raise OAuthError("invalid_request", "Use one client authentication method.")
            if form.get("client_id") not in (None, basic_id):
                raise OAuthError("invalid_client", "Client ids differ.", 401)
        client_id = basic_id or form.get("client_id")
        secret = basic_secret if basic_id else form.get("client_secret")
        client = await self.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", "Unknown client or bad credentials.", 401)
        if client.confidential:
            if not secret or not secrets.compare_digest(token_hash(secret), client.secret_hash or ""):
                await self.audit(f"client:{client.client_id}", "oauth.client_auth", f"client:{client.client_id}",
                                 "failure")
                raise OAuthError("invalid_client", "Unknown client or bad credentials.", 401)
        elif secret:
            raise OAuthError("invalid_client", "This client has no secret.", 401)
        return client


def server_metadata(issuer: str) -> dict[str, Any]:
    """OpenID Provider metadata (also the RFC 8414 authorization server metadata)."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/oauth/jwks",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "end_session_endpoint": f"{issuer}/oauth/logout",
        "scopes_supported": sorted(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": sorted(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "name",
                             "roles"],
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }
