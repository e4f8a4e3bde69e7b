"""OAuth 2.1 / OIDC authorization server logic, framework-free (the controllers translate HTTP).

- Authorization codes: Redis, one-time (GETDEL), bound to client, exact redirect URI, PKCE S256 and
  nonce; a replayed code revokes the token family it produced (RFC 6749 §4.1.2).
- Access tokens: JWT (RFC 9068, `typ: at+jwt`, ES256), short-lived; revocation by `jti`, by family and
  by the user's `tokens_valid_after` (suspension, logout everywhere), all checked on every use.
- Refresh tokens: opaque, stored hashed, rotated on every use, one family per sign-in. Using a spent
  one revokes the family, except within `refresh_grace_s` of its first use, when the same new pair
  is returned again (a client retrying after a lost response must not lose the session). That pair
  sits in Redis for the grace window only, encrypted under a key derived from the old refresh token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.fernet import Fernet, InvalidToken
from joserfc import jwt
from joserfc.errors import JoseError
from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.accounts.credentials import token_hash
from services.gateway.accounts.service import Accounts, Audit
from services.gateway.accounts.tables import users
from services.gateway.config import Settings
from services.gateway.keys.service import Clock, KeyRing
from services.gateway.oauth.tables import oauth_clients, refresh_tokens
from shared.logging import get_logger

log = get_logger("tandem.gateway.oauth")

SCOPES = frozenset({"openid", "profile", "email", "offline_access", "api"})
GRANT_TYPES = frozenset({"authorization_code", "refresh_token", "client_credentials"})
_PKCE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CLIENT_CACHE_S = 10.0
VERIFIED_CACHE_SIZE = 4096  # access tokens whose signature was checked once (see `decode`)


class OAuthError(Exception):
    """An RFC 6749 §5.2 error (or §4.1.2.1 when redirected)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


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


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    roles: tuple[str, ...]
    sid: str | None
    client_id: str
    scope: str
    claims: dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _grace_cipher(refresh_token: str) -> Fernet:
    # Only a holder of the old refresh token can read the cached pair.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"tandem-refresh-grace:" + refresh_token.encode())
                                           .digest()))


def _ts(value: datetime | None) -> float:
    if value is None:
        return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def parse_scope(raw: str | None) -> list[str]:
    return [s for s in (raw or "").split(" ") if s]


class OAuthServer:
    def __init__(self, engine: AsyncEngine, redis: Redis, keys: KeyRing, accounts: Accounts, audit: Audit,
                 settings: Settings, clock: Clock) -> None:
        self.engine = engine
        self.redis = redis
        self.keys = keys
        self.accounts = accounts
        self.audit = audit
        self.settings = settings
        self.clock = clock
        self.issuer = settings.issuer
        self._clients: dict[str, tuple[float, Client | None]] = {}
        self._verified: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self.on_token_revoked: list[Callable[[str], Awaitable[Any]]] = []  # called with the token's subject

    # -- clients ---------------------------------------------------------------------------------

    async def create_client(self, *, name: str, redirect_uris: list[str], post_logout_redirect_uris: list[str],
                            grant_types: list[str], scope: list[str], confidential: bool,
                            client_id: str | None = None, secret: str | None = None) -> tuple[str, str | None]:
        """Register a client; a confidential one gets a random secret unless the operator supplies one
        (a deployment that provisions the secret file first, e.g. the recorder's)."""
        if not set(grant_types) <= GRANT_TYPES or not grant_types:
            raise ValueError("unknown grant type")
        if not set(scope) <= SCOPES:
            raise ValueError("unknown scope")
        if "client_credentials" in grant_types and not confidential:
            raise ValueError("client credentials need a confidential client")
        if "authorization_code" in grant_types and not redirect_uris:
            raise ValueError("the code grant needs at least one redirect URI")
        for uri in (*redirect_uris, *post_logout_redirect_uris):
            if not uri.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")) \
                    or "#" in uri:
                raise ValueError(f"redirect URIs must be https (or loopback http) without fragment: {uri}")
        client_id = client_id or uuid.uuid4().hex
        if not _CLIENT_ID.match(client_id):
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

    async def client(self, client_id: str | None) -> Client | None:
        if not client_id or not _CLIENT_ID.match(client_id):
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

    async def _cached_client(self, client_id: str) -> Client | None:
        # Per-request checks of service tokens: a disabled client's tokens stop within CLIENT_CACHE_S.
        now = self.clock()
        hit = self._clients.get(client_id)
        if hit is not None and now - hit[0] < CLIENT_CACHE_S:
            return hit[1]
        client = await self.client(client_id)
        if len(self._clients) > 1000:
            self._clients.clear()
        self._clients[client_id] = (now, client)
        return client

    async def authenticate_client(self, form: Mapping[str, str], authorization: str | None) -> Client:
        """client_secret_basic, client_secret_post, or `none` (public clients, PKCE)."""
        basic_id = basic_secret = None
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "basic":
                raise OAuthError("invalid_client", "Unsupported client authentication.", 401)
            try:
                from urllib.parse import unquote

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
        client = await self.client(client_id)
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

    # -- authorization endpoint ---------------------------------------------------------------------

    async def check_authorization_client(self, params: Mapping[str, str]) -> Client:
        """Errors here are shown to the user, never redirected (the redirect target is not trusted)."""
        client = await self.client(params.get("client_id"))
        if client is None:
            raise OAuthError("invalid_client", "Unknown client.")
        if "authorization_code" not in client.grant_types:
            raise OAuthError("unauthorized_client", "This client may not use the code grant.")
        redirect_uri = params.get("redirect_uri")
        # Exact string comparison: no prefix, pattern, or normalisation (OAuth 2.1 §2.3.1, §7.5.3).
        if not redirect_uri or redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is missing or not registered for this client.")
        return client

    def check_authorization_request(self, client: Client, params: Mapping[str, str]) -> list[str]:
        """Errors here are redirected back to the client with `error=`."""
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "Only response_type=code is supported.")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if not challenge:
            raise OAuthError("invalid_request", "code_challenge is required (PKCE).")
        if method != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256.")
        if not _PKCE.match(challenge) or len(challenge) != 43:
            raise OAuthError("invalid_request", "code_challenge is malformed.")
        scope = parse_scope(params.get("scope")) or ["openid"]
        if not set(scope) <= client.scope:
            raise OAuthError("invalid_scope", "A requested scope is not allowed for this client.")
        if len(params.get("nonce", "")) > 255 or len(params.get("state", "")) > 1024:
            raise OAuthError("invalid_request", "state or nonce too long.")
        return scope

    async def issue_code(self, client: Client, params: Mapping[str, str], scope: list[str], user_id: str, sid: str,
                         auth_time: float, amr: list[str] | None = None) -> str:
        code = secrets.token_urlsafe(32)
        record = {"client_id": client.client_id, "redirect_uri": params["redirect_uri"], "user_id": user_id,
                  "sid": sid, "scope": scope, "challenge": params["code_challenge"], "nonce": params.get("nonce"),
                  "auth_time": int(auth_time), "exp": self.clock() + self.settings.auth_code_lifetime_s,
                  "amr": amr or []}
        await self.redis.set(f"gw:code:{token_hash(code)}", json.dumps(record),
                             ex=self.settings.auth_code_lifetime_s + 30)
        await self.audit(user_id, "oauth.code_issue", f"client:{client.client_id}", "success")
        return code

    # -- token endpoint -------------------------------------------------------------------------------

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
        code, verifier, redirect_uri = form.get("code"), form.get("code_verifier"), form.get("redirect_uri")
        if not code or not redirect_uri:
            raise OAuthError("invalid_request", "code and redirect_uri are required.")
        if not verifier:
            raise OAuthError("invalid_request", "code_verifier is required (PKCE).")
        code_key = token_hash(code)
        raw = await self.redis.getdel(f"gw:code:{code_key}")
        if raw is None:
            family = await self.redis.get(f"gw:code-used:{code_key}")
            if family is not None:
                # A replayed code: whoever redeemed it first may be an attacker; kill what it produced.
                await self.revoke_family(family.decode() if isinstance(family, bytes) else family,
                                         reason="code-replay")
                await self.audit(f"client:{client.client_id}", "oauth.code_replay", f"client:{client.client_id}",
                                 "denied")
            raise OAuthError("invalid_grant", "The authorization code is invalid, expired or already used.")
        record = json.loads(raw)
        # The code is spent whatever happens next: a failed attempt cannot be retried with another verifier.
        if record["client_id"] != client.client_id or record["redirect_uri"] != redirect_uri:
            raise OAuthError("invalid_grant", "The code was issued to another client or redirect_uri.")
        if self.clock() > record["exp"]:
            raise OAuthError("invalid_grant", "The authorization code has expired.")
        if not _PKCE.match(verifier) or not secrets.compare_digest(create_s256_code_challenge(verifier),
                                                                   record["challenge"]):
            await self.audit(record["user_id"], "oauth.pkce", f"client:{client.client_id}", "failure")
            raise OAuthError("invalid_grant", "PKCE verification failed.")
        state = await self.accounts.state(record["user_id"])
        if state is None or not state.active or state.valid_after > record["auth_time"] + 0.999:
            raise OAuthError("invalid_grant", "The user's session is no longer valid.")
        family = uuid.uuid4().hex
        await self.redis.set(f"gw:code-used:{code_key}", family, ex=600)
        response = await self._issue(client, state.user_id, state.roles, record["scope"], record["sid"], family,
                                     record["auth_time"], nonce=record.get("nonce"), refresh=True,
                                     amr=record.get("amr"))
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
                     family: str, auth_time: int, *, nonce: str | None = None, refresh: bool = True,
                     family_expires: float | None = None, amr: list[str] | None = None) -> dict[str, Any]:
        now = int(self.clock())
        access = self._access_token(user_id, roles, client.client_id, scope, sid, family, now)
        response: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                    "expires_in": self.settings.access_token_lifetime_s, "scope": " ".join(scope)}
        if refresh and "refresh_token" in client.grant_types:
            token = secrets.token_urlsafe(32)
            expires = family_expires or (now + self.settings.refresh_token_lifetime_s)
            async with self.engine.begin() as conn:
                await conn.execute(sa.insert(refresh_tokens).values(
                    token_hash=token_hash(token), family_id=family, user_id=user_id, client_id=client.client_id,
                    scope=" ".join(scope), sid=sid, auth_time=auth_time,
                    created_at=datetime.fromtimestamp(now, UTC), expires_at=datetime.fromtimestamp(expires, UTC)))
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
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == key))).first()
            if row is None or row.client_id != client.client_id:
                raise invalid
            if row.revoked_at is not None:
                raise invalid
            claimed = 0
            if row.used_at is None:
                claimed = (await conn.execute(sa.update(refresh_tokens).where(
                    refresh_tokens.c.token_hash == key, refresh_tokens.c.used_at.is_(None))
                    .values(used_at=datetime.fromtimestamp(now, UTC)))).rowcount
        if not claimed:
            used_at = _ts(row.used_at) if row.used_at is not None else now
            if now - used_at <= self.settings.refresh_grace_s:
                cached = await self._grace_pair(key, token)
                if cached is not None:
                    await self.audit(row.user_id, "oauth.token_refresh", f"client:{client.client_id}", "success",
                                     reason="grace-retry")
                    return cached
            await self.revoke_family(row.family_id, reason="refresh-reuse")
            await self.audit(row.user_id, "oauth.refresh_reuse_detected", f"family:{row.family_id}", "denied")
            raise invalid
        if _ts(row.expires_at) < now:
            raise invalid
        state = await self.accounts.state(row.user_id)
        if state is None or not state.active or _ts(row.created_at) < state.valid_after:
            raise invalid
        scope = row.scope.split()
        requested = parse_scope(form.get("scope"))
        if requested:
            if not set(requested) <= set(scope):
                raise OAuthError("invalid_scope", "A refresh cannot widen the scope.")
            scope = requested
        response = await self._issue(client, row.user_id, state.roles, scope, row.sid, row.family_id, row.auth_time,
                                     family_expires=_ts(row.expires_at))
        if self.settings.refresh_grace_s > 0:
            sealed = _grace_cipher(token).encrypt(json.dumps(response).encode())
            await self.redis.set(f"gw:rt-grace:{key}", sealed, px=int(self.settings.refresh_grace_s * 1000) + 1000)
        await self.audit(row.user_id, "oauth.token_refresh", f"client:{client.client_id}", "success")
        return response

    async def _grace_pair(self, key: str, token: str) -> dict[str, Any] | None:
        # The first use may still be writing its response: wait a moment for it.
        for _ in range(20):
            sealed = await self.redis.get(f"gw:rt-grace:{key}")
            if sealed is not None:
                try:
                    return json.loads(_grace_cipher(token).decrypt(sealed))  # type: ignore[no-any-return]
                except InvalidToken:
                    return None
            await asyncio.sleep(0.05)
        return None

    async def revoke_family(self, family: str, *, reason: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(refresh_tokens).where(refresh_tokens.c.family_id == family,
                                                               refresh_tokens.c.revoked_at.is_(None))
                               .values(revoked_at=datetime.fromtimestamp(self.clock(), UTC)))
            owner = (await conn.execute(sa.select(refresh_tokens.c.user_id)
                                        .where(refresh_tokens.c.family_id == family).limit(1))).scalar()
        # Access tokens of the family die too (they live at most access_token_lifetime_s).
        await self.redis.set(f"gw:fam-rev:{family}", reason, ex=self.settings.access_token_lifetime_s + 120)
        if owner is not None:
            await self._token_revoked(str(owner))
        log.info("oauth.family_revoked", family=family, cause=reason)

    async def _token_revoked(self, subject: str) -> None:
        for revoked in self.on_token_revoked:
            await revoked(subject)

    async def revoke_user(self, user_id: str) -> None:
        """Suspension and logout everywhere: every refresh token of the user dies now."""
        async with self.engine.begin() as conn:
            families = [r.family_id for r in await conn.execute(
                sa.select(refresh_tokens.c.family_id).distinct()
                .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None)))]
            await conn.execute(sa.update(refresh_tokens).where(refresh_tokens.c.user_id == user_id,
                                                               refresh_tokens.c.revoked_at.is_(None))
                               .values(revoked_at=datetime.fromtimestamp(self.clock(), UTC)))
        for family in families:
            await self.redis.set(f"gw:fam-rev:{family}", "user", ex=self.settings.access_token_lifetime_s + 120)
        if families:
            await self.audit("gateway", "oauth.token_revoke", f"user:{user_id}", "success",
                             reason=f"{len(families)} families")

    async def revoke_sid(self, sid: str) -> None:
        async with self.engine.connect() as conn:
            families = [r.family_id for r in await conn.execute(
                sa.select(refresh_tokens.c.family_id).distinct().where(refresh_tokens.c.sid == sid))]
        for family in families:
            await self.revoke_family(family, reason="logout")

    # -- access token checks ----------------------------------------------------------------------------

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

    async def check_access_token(self, token: str) -> AccessClaims | None:
        claims = self.decode(token)
        if claims is None or claims.get("aud") != self.issuer or "client_id" not in claims:
            return None
        jti, family, sub = str(claims.get("jti", "")), claims.get("fam"), str(claims.get("sub", ""))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(f"gw:rev:{jti}")
            pipe.exists(f"gw:fam-rev:{family}") if family else pipe.exists("gw:none")
            revoked, family_revoked = await pipe.execute()
        if revoked or family_revoked:
            return None
        if sub.startswith("service:"):
            client = await self._cached_client(sub.removeprefix("service:"))
            if client is None:
                return None
            return AccessClaims(sub=sub, roles=("service",), sid=None, client_id=client.client_id,
                                scope=str(claims.get("scope", "")), claims=claims)
        state = await self.accounts.state(sub)
        if state is None or not state.active or claims["iat"] < int(state.valid_after):
            return None
        return AccessClaims(sub=sub, roles=state.roles, sid=claims.get("sid"), client_id=str(claims["client_id"]),
                            scope=str(claims.get("scope", "")), claims=claims)

    # -- revocation and introspection ---------------------------------------------------------------------

    async def revoke(self, client: Client, token: str) -> None:
        """RFC 7009: revoke a refresh token (its whole family) or an access token; unknown → no-op."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(refresh_tokens.c.family_id, refresh_tokens.c.client_id,
                                                refresh_tokens.c.user_id)
                                      .where(refresh_tokens.c.token_hash == token_hash(token)))).first()
        if row is not None:
            if row.client_id == client.client_id:
                await self.revoke_family(row.family_id, reason="revoked")
                await self.audit(row.user_id, "oauth.token_revoke", f"family:{row.family_id}", "success")
            return
        claims = self.decode(token)
        if claims is not None and claims.get("client_id") == client.client_id:
            ttl = max(1, int(claims["exp"] - self.clock()) + 60)
            await self.redis.set(f"gw:rev:{claims.get('jti')}", "1", ex=ttl)
            await self._token_revoked(str(claims.get("sub")))
            await self.audit(str(claims.get("sub")), "oauth.token_revoke", f"client:{client.client_id}", "success")

    async def introspect(self, client: Client, token: str) -> dict[str, Any]:
        checked = await self.check_access_token(token)
        if checked is not None:
            c = checked.claims
            return {"active": True, "scope": checked.scope, "client_id": checked.client_id, "sub": checked.sub,
                    "token_type": "Bearer", "exp": c["exp"], "iat": c["iat"], "iss": c["iss"], "aud": c["aud"],
                    "jti": c.get("jti"), "roles": list(checked.roles)}
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(refresh_tokens).where(
                refresh_tokens.c.token_hash == token_hash(token)))).first()
        if row is None or row.client_id != client.client_id or row.used_at is not None or row.revoked_at is not None \
                or _ts(row.expires_at) < self.clock():
            return {"active": False}
        state = await self.accounts.state(row.user_id)
        if state is None or not state.active or _ts(row.created_at) < state.valid_after:
            return {"active": False}
        return {"active": True, "scope": row.scope, "client_id": row.client_id, "sub": row.user_id,
                "token_type": "refresh_token", "exp": int(_ts(row.expires_at)), "iat": int(_ts(row.created_at)),
                "iss": self.issuer}

    async def userinfo(self, checked: AccessClaims) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users.c.email, users.c.display_name)
                                      .where(users.c.id == checked.sub))).first()
        info: dict[str, Any] = {"sub": checked.sub, "roles": list(checked.roles)}
        scopes = checked.scope.split()
        if row is not None and "email" in scopes:
            info["email"] = row.email
            info["email_verified"] = True
        if row is not None and "profile" in scopes:
            info["name"] = row.display_name
        return info

    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "userinfo_endpoint": f"{base}/oauth/userinfo",
            "jwks_uri": f"{base}/oauth/jwks",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "introspection_endpoint": f"{base}/oauth/introspect",
            "end_session_endpoint": f"{base}/oauth/logout",
            "scopes_supported": sorted(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": sorted(GRANT_TYPES),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "name",
                                 "roles"],
            "authorization_response_iss_parameter_supported": True,
            "frontchannel_logout_supported": False,
            "backchannel_logout_supported": False,
        }
