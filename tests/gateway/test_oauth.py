"""OAuth 2.1 / OIDC against a running gateway, driven by Authlib's httpx client where a real client
would be used; raw requests where the test needs to misbehave."""

from __future__ import annotations

import base64
import hashlib
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.deprecate import AuthlibDeprecationWarning
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.gateway import Browser, Harness

with warnings.catch_warnings():
    # Authlib 1.9 nudges towards the `httpx2` package, which is not installed here; httpx works.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

pytestmark = pytest.mark.integration

REDIRECT = "http://127.0.0.1:9/callback"
LOGOUT = "http://127.0.0.1:9/bye"


@dataclass
class App:
    h: Harness
    client_id: str
    rs_id: str  # a resource server (confidential) allowed to introspect
    rs_secret: str
    browser: Browser

    def oauth(self, **kw: Any) -> AsyncOAuth2Client:
        options: dict[str, Any] = {"redirect_uri": REDIRECT, "code_challenge_method": "S256",
                                   "scope": "openid profile email offline_access", **kw}
        return AsyncOAuth2Client(client_id=self.client_id, base_url=self.h.url, **options)

    async def authorize(self, oauth: AsyncOAuth2Client, **extra: str) -> tuple[str, str, str]:
        """(redirect location, state, verifier) after the signed-in browser visits the authorize URL."""
        verifier = generate_token(48)
        url, state = oauth.create_authorization_url(f"{self.h.url}/oauth/authorize", code_verifier=verifier,
                                                    nonce="n-0S6_WzA2Mj", **extra)
        r = await self.h.client.get(url, headers=self.browser.headers(csrf=False))
        assert r.status_code == 302, r.text
        return r.headers["location"], state, verifier

    async def tokens(self) -> dict[str, Any]:
        async with self.oauth() as oauth:
            location, state, verifier = await self.authorize(oauth)
            return dict(await oauth.fetch_token(f"{self.h.url}/oauth/token", authorization_response=location,
                                                state=state, code_verifier=verifier))

    async def introspect(self, token: str) -> dict[str, Any]:
        r = await self.h.client.post("/oauth/introspect", data={"token": token}, auth=(self.rs_id, self.rs_secret))
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.h.client.post("/oauth/token", data={
            "grant_type": "refresh_token", "client_id": self.client_id, "refresh_token": refresh_token})


@pytest.fixture
async def app(harness: Harness) -> AsyncIterator[App]:
    h = harness
    client_id, _ = await h.gw.oauth_clients.create(
        name="web", redirect_uris=[REDIRECT], post_logout_redirect_uris=[LOGOUT],
        grant_types=["authorization_code", "refresh_token"], scope=["openid", "profile", "email", "offline_access",
                                                                      "api"], confidential=False)
    rs_id, rs_secret = await h.gw.oauth_clients.create(name="rs", redirect_uris=[], post_logout_redirect_uris=[],
                                                       grant_types=["client_credentials"], scope=["api"],
                                                       confidential=True)
    assert rs_secret
    browser = await h.user("mentee@example.org", ["mentee"])
    yield App(h, client_id, rs_id, rs_secret, browser)


def _claims(token: str, h: Harness) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(h.gw.keys.token.jwks()), algorithms=["ES256"]).claims)


async def test_discovery_and_jwks(app: App) -> None:
    h = app.h
    doc = (await h.client.get("/.well-known/openid-configuration")).json()
    assert doc["issuer"] == h.settings.issuer
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint"] == f"{h.settings.issuer}/oauth/token"
    jwks = (await h.client.get("/oauth/jwks")).json()
    assert jwks["keys"] and all("d" not in k for k in jwks["keys"])
    schema = await h.client.get("/schema/openapi.json")
    assert schema.status_code == 200
    for path in ("/oauth/token", "/auth/login", "/admin/users", "/me/inbox", "/internal/assertion-jwks"):
        assert path in schema.json()["paths"], path
    # The form endpoints read their own bodies: their schema states the form fields and the OAuth errors.
    paths = schema.json()["paths"]
    for path, required in (("/oauth/token", ["grant_type"]), ("/oauth/revoke", ["token"]),
                           ("/oauth/introspect", ["token"]), ("/oauth/logout", ["id_token_hint"])):
        op = paths[path]["post"]
        form = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert form["required"] == required, path
        assert ("client_secret" in form["properties"]) == (path != "/oauth/logout"), path
        assert op["responses"]["400"]["content"]["application/json"]["schema"]["required"] == ["error"], path
    assert [p["name"] for p in paths["/oauth/logout"]["get"]["parameters"]][:1] == ["id_token_hint"]
    assertion_jwks = (await h.client.get("/internal/assertion-jwks")).json()
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in assertion_jwks["keys"])


async def test_code_flow_with_pkce_using_authlib(app: App) -> None:
    h = app.h
    async with app.oauth() as oauth:
        location, state, verifier = await app.authorize(oauth)
        query = parse_qs(urlparse(location).query)
        assert location.startswith(REDIRECT) and query["state"] == [state] and query["iss"] == [h.settings.issuer]
        token = await oauth.fetch_token(f"{h.url}/oauth/token", authorization_response=location, state=state,
                                        code_verifier=verifier)
        assert token["token_type"] == "Bearer" and token["expires_in"] == h.settings.access_token_lifetime_s
        id_claims = _claims(token["id_token"], h)
        assert id_claims["aud"] == app.client_id and id_claims["nonce"] == "n-0S6_WzA2Mj"
        assert id_claims["sub"] == app.browser.user_id and id_claims["iss"] == h.settings.issuer
        digest = hashlib.sha256(token["access_token"].encode()).digest()[:16]
        assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        access = _claims(token["access_token"], h)
        assert access["exp"] - access["iat"] == h.settings.access_token_lifetime_s
        me = await oauth.get(f"{h.url}/me")
        assert me.status_code == 200 and me.json()["id"] == app.browser.user_id
        info = await oauth.get(f"{h.url}/oauth/userinfo")
        assert info.json()["email"] == "mentee@example.org"
        refreshed = await oauth.refresh_token(f"{h.url}/oauth/token")
        assert refreshed["refresh_token"] != token["refresh_token"]


async def test_authorize_without_session_goes_to_login(app: App) -> None:
    async with app.oauth() as oauth:
        url, _ = oauth.create_authorization_url(f"{app.h.url}/oauth/authorize", code_verifier=generate_token(48))
    r = await app.h.client.get(url)
    assert r.status_code == 302 and r.headers["location"].startswith("/login?return_to=%2Foauth%2Fauthorize")
    r = await app.h.client.get(url + "&prompt=none")
    assert r.status_code == 302 and "error=login_required" in r.headers["location"]


async def test_wrong_redirect_uri_is_never_followed(app: App) -> None:
    h = app.h
    async with app.oauth(redirect_uri="http://127.0.0.1:9/callback/extra") as oauth:
        url, _ = oauth.create_authorization_url(f"{h.url}/oauth/authorize", code_verifier=generate_token(48))
    r = await h.client.get(url, headers=app.browser.headers(csrf=False))
    assert r.status_code == 400 and "location" not in r.headers
    assert r.json()["error"] == "invalid_request"
    # At the token endpoint the redirect_uri must equal the one the code was issued for.
    async with app.oauth() as oauth:
        location, _, verifier = await app.authorize(oauth)
        code = parse_qs(urlparse(location).query)["code"][0]
    r = await h.client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                                  "redirect_uri": REDIRECT + "?x=1", "client_id": app.client_id,
                                                  "code_verifier": verifier})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_reused_code_is_refused_and_revokes_its_tokens(app: App) -> None:
    h = app.h
    async with app.oauth() as oauth:
        location, state, verifier = await app.authorize(oauth)
        token = await oauth.fetch_token(f"{h.url}/oauth/token", authorization_response=location, state=state,
                                        code_verifier=verifier)
        with pytest.raises(OAuthError) as err:
            await oauth.fetch_token(f"{h.url}/oauth/token", authorization_response=location, state=state,
                                    code_verifier=verifier)
        assert err.value.error == "invalid_grant"
    assert (await app.introspect(token["access_token"]))["active"] is False
    assert (await app.refresh(token["refresh_token"])).json()["error"] == "invalid_grant"


async def test_pkce_mismatch_plain_and_missing_challenge(app: App) -> None:
    h = app.h
    async with app.oauth() as oauth:
        location, state, _ = await app.authorize(oauth)
        with pytest.raises(OAuthError) as err:
            await oauth.fetch_token(f"{h.url}/oauth/token", authorization_response=location, state=state,
                                    code_verifier=generate_token(48))
        assert err.value.error == "invalid_grant"
    base = {"response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT, "state": "s1"}
    verifier = generate_token(48)
    for extra in ({"code_challenge": verifier, "code_challenge_method": "plain"},
                  {"code_challenge": verifier},  # method defaults to plain: refused too
                  {}):
        r = await h.client.get("/oauth/authorize", params={**base, **extra}, headers=app.browser.headers(csrf=False))
        assert r.status_code == 302
        q = parse_qs(urlparse(r.headers["location"]).query)
        assert q["error"] == ["invalid_request"] and q["state"] == ["s1"] and "code" not in q
    # A code issued with a challenge cannot be redeemed without the verifier.
    async with app.oauth() as oauth:
        location, _, _ = await app.authorize(oauth)
    code = parse_qs(urlparse(location).query)["code"][0]
    r = await h.client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                                  "redirect_uri": REDIRECT, "client_id": app.client_id})
    assert r.json()["error"] == "invalid_request"


async def test_expired_code(app: App) -> None:
    h = app.h
    async with app.oauth() as oauth:
        location, state, verifier = await app.authorize(oauth)
        h.clock.advance(h.settings.auth_code_lifetime_s + 1)
        with pytest.raises(OAuthError) as err:
            await oauth.fetch_token(f"{h.url}/oauth/token", authorization_response=location, state=state,
                                    code_verifier=verifier)
        assert err.value.error == "invalid_grant"


async def test_refresh_reuse_revokes_the_family(app: App) -> None:
    h = app.h
    first = await app.tokens()
    second = (await app.refresh(first["refresh_token"])).json()
    assert "refresh_token" in second
    h.clock.advance(h.settings.refresh_grace_s + 1)
    replay = await app.refresh(first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The legitimate holder's newer tokens die with the family.
    assert (await app.refresh(second["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await app.introspect(second["access_token"]))["active"] is False


async def test_refresh_retry_within_grace_returns_same_pair(app: App) -> None:
    h = app.h
    first = await app.tokens()
    a = (await app.refresh(first["refresh_token"])).json()
    h.clock.advance(h.settings.refresh_grace_s / 2)
    b = (await app.refresh(first["refresh_token"])).json()
    assert a == b
    c = await app.refresh(a["refresh_token"])
    assert c.status_code == 200  # the family is intact


async def test_revoked_tokens_are_inactive(app: App) -> None:
    h = app.h
    tokens = await app.tokens()
    assert (await app.introspect(tokens["access_token"]))["active"] is True
    assert (await app.introspect(tokens["refresh_token"]))["active"] is False  # not this client's token
    async with app.oauth(token=tokens) as oauth:
        await oauth.revoke_token(f"{h.url}/oauth/revoke", token=tokens["access_token"],
                                 token_type_hint="access_token")
    assert (await app.introspect(tokens["access_token"]))["active"] is False
    assert (await h.client.get("/me", headers={"authorization": f"Bearer {tokens['access_token']}"})).status_code == 401
    r = await h.client.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": app.client_id})
    assert r.status_code == 200
    assert (await app.refresh(tokens["refresh_token"])).json()["error"] == "invalid_grant"
    # Unknown tokens: 200 all the same (RFC 7009 §2.2).
    assert (await h.client.post("/oauth/revoke", data={"token": "nope", "client_id": app.client_id})
            ).status_code == 200


async def test_key_rotation_keeps_old_tokens_valid_until_expiry(app: App) -> None:
    h = app.h
    old = await app.tokens()
    old_kid = jwt.decode(old["access_token"], KeySet.import_key_set(h.gw.keys.token.jwks()),
                         algorithms=["ES256"]).header["kid"]
    r = await h.client.post("/admin/keys/token/rotate", headers=(await h.user("op@example.org", ["operator"]))
                            .headers())
    assert r.status_code == 201
    new_kid = r.json()["kid"]
    kids = {k["kid"] for k in (await h.client.get("/oauth/jwks")).json()["keys"]}
    assert {old_kid, new_kid} <= kids
    new = await app.tokens()
    assert _claims(new["access_token"], h) and jwt.decode(
        new["access_token"], KeySet.import_key_set(h.gw.keys.token.jwks()), algorithms=["ES256"]
    ).header["kid"] == new_kid
    assert (await app.introspect(old["access_token"]))["active"] is True
    h.clock.advance(h.settings.access_token_lifetime_s + 61)
    await h.gw.keys.token.maintain()
    kids = {k["kid"] for k in (await h.client.get("/oauth/jwks")).json()["keys"]}
    assert old_kid not in kids and new_kid in kids
    # A token whose signature was checked before is not trusted from memory once its key is gone.
    assert h.gw.access_tokens.decode(old["access_token"], verify_exp=False) is None


async def test_publish_ahead_new_key_published_before_it_signs(harness: Harness) -> None:
    h = harness
    ring = h.gw.keys.assertion
    before = ring.current().kid
    kid = await ring.rotate(publish_ahead_s=300)
    assert kid in {k["kid"] for k in ring.jwks()["keys"]} and ring.current().kid == before
    h.clock.advance(301)
    assert ring.current().kid == kid


async def test_client_credentials_for_service_accounts(app: App) -> None:
    h = app.h
    async with AsyncOAuth2Client(client_id=app.rs_id, client_secret=app.rs_secret, base_url=h.url) as oauth:
        token = await oauth.fetch_token(f"{h.url}/oauth/token", grant_type="client_credentials")
    assert "refresh_token" not in token and "id_token" not in token
    info = await app.introspect(token["access_token"])
    assert info["active"] and info["sub"] == f"service:{app.rs_id}" and info["roles"] == ["service"]
    bad = await h.client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(app.rs_id, "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client" and "www-authenticate" in bad.headers
    public = await h.client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": app.client_id})
    assert public.json()["error"] == "unauthorized_client"


async def test_suspension_kills_refresh_tokens_at_once(app: App) -> None:
    h = app.h
    tokens = await app.tokens()
    admin = await h.user("admin@example.org", ["admin"])
    assert (await h.client.post(f"/admin/users/{app.browser.user_id}/suspend", headers=admin.headers())
            ).status_code == 200
    assert (await app.refresh(tokens["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await app.introspect(tokens["access_token"]))["active"] is False
    assert (await h.client.get("/me", headers=app.browser.headers())).status_code == 401


async def test_rp_initiated_logout(app: App) -> None:
    h = app.h
    tokens = await app.tokens()
    bad = await h.client.get("/oauth/logout", params={"id_token_hint": tokens["id_token"],
                                                      "post_logout_redirect_uri": "https://evil.example/"})
    assert bad.status_code == 400 and "location" not in bad.headers
    assert (await h.client.get("/oauth/logout", params={"id_token_hint": "garbage"})).status_code == 400
    r = await h.client.get("/oauth/logout", headers=app.browser.headers(csrf=False),
                           params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT,
                                   "state": "xyz"})
    assert r.status_code == 302 and r.headers["location"] == f"{LOGOUT}?state=xyz"
    assert (await h.client.get("/me", headers=app.browser.headers())).status_code == 401
    assert (await app.refresh(tokens["refresh_token"])).json()["error"] == "invalid_grant"


async def test_bad_requests_get_rfc_errors(app: App) -> None:
    h = app.h
    cid = app.client_id
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"data": {"client_id": cid}}, 400, "invalid_request"),
        ({"data": {"grant_type": "password", "client_id": cid}}, 400, "unsupported_grant_type"),
        ({"data": {"grant_type": "authorization_code", "client_id": "nope"}}, 401, "invalid_client"),
        ({"data": {"grant_type": "authorization_code", "client_id": cid, "code": "x", "redirect_uri": REDIRECT,
                   "code_verifier": generate_token(48)}}, 400, "invalid_grant"),
        ({"content": f"grant_type=refresh_token&grant_type=refresh_token&client_id={cid}",
          "headers": {"content-type": "application/x-www-form-urlencoded"}}, 400, "invalid_request"),
        ({"json": {"grant_type": "refresh_token", "client_id": cid}}, 400, "invalid_request"),
        ({"data": {"grant_type": "refresh_token", "client_id": cid}}, 400, "invalid_request"),
        ({"data": {"grant_type": "refresh_token", "client_id": cid, "refresh_token": "x" * 5000}}, 400,
         "invalid_grant"),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 400,
         "invalid_request"),
        ({"data": {"grant_type": "client_credentials"}, "headers": {"authorization": "Basic !!!"}}, 401,
         "invalid_client"),
    ]
    for kwargs, status, error in cases:
        r = await h.client.post("/oauth/token", **kwargs)
        assert (r.status_code, r.json()["error"]) == (status, error), (kwargs, r.text)
        assert r.headers["cache-control"] == "no-store"
    r = await h.client.get("/oauth/authorize", params={"client_id": "nope", "redirect_uri": REDIRECT})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"
    r = await h.client.get("/oauth/authorize", params={"client_id": cid, "redirect_uri": REDIRECT,
                                                       "response_type": "token", "state": "s"},
                           headers=app.browser.headers(csrf=False))
    assert "error=unsupported_response_type" in r.headers["location"]
    r = await h.client.get("/oauth/authorize", params={"client_id": cid, "redirect_uri": REDIRECT,
                                                       "response_type": "code", "scope": "openid admin",
                                                       "code_challenge": "a" * 43, "code_challenge_method": "S256"},
                           headers=app.browser.headers(csrf=False))
    assert "error=invalid_scope" in r.headers["location"]
    for header in ("Bearer", "Bearer x.y.z", "Basic abc", "Bearer " + "a" * 5000):
        r = await h.client.get("/me", headers={"authorization": header})
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    r = await h.client.post("/oauth/introspect", data={"token": "x", "client_id": cid})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = await h.client.post("/oauth/introspect", data={}, auth=(app.rs_id, app.rs_secret))
    assert r.json()["error"] == "invalid_request"
    assert (await h.client.get("/oauth/userinfo")).status_code == 401
