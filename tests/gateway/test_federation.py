"""Sign-in through an upstream OpenID provider: a second gateway instance plays Entra ID / Keycloak."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest

from deploy.local.children import free_port
from services.gateway.app import create_app
from tests.support.gateway import Clock, Harness, insecure_fast_argon2_settings
from tests.support.servers import serve

pytestmark = pytest.mark.integration


@dataclass
class Pair:
    local: Harness  # the Tandem gateway people sign in to
    upstream: Harness  # the organisation's provider


@pytest.fixture
async def pair(redis_url: str, gateway_db: Callable[..., str], clock: Clock) -> AsyncIterator[Pair]:
    up_port, local_port = free_port(), free_port()
    up_url, local_url = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{local_port}"
    up_settings = insecure_fast_argon2_settings(gateway_db("up"), redis_url, issuer=up_url)
    upstream_app = create_app(up_settings, clock=clock, run_consumers=False)
    async with serve(upstream_app, up_port), httpx.AsyncClient(base_url=up_url, timeout=30) as up_client:
        upstream = Harness(upstream_app, up_client, clock, up_settings, url=up_url)
        client_id, secret = await upstream.gw.oauth_clients.create(
            name="tandem", redirect_uris=[f"{local_url}/auth/federated/callback"], post_logout_redirect_uris=[],
            grant_types=["authorization_code"], scope=["openid", "email", "profile"], confidential=True)
        local_settings = insecure_fast_argon2_settings(
            gateway_db("local"), redis_url, issuer=local_url, federation_issuer=up_url, federation_client_id=client_id,
            federation_client_secret=secret or "", federation_role_map=("operator=admin",))
        local_app = create_app(local_settings, clock=clock, run_consumers=False)
        async with serve(local_app, local_port), httpx.AsyncClient(base_url=local_url, timeout=30) as client:
            yield Pair(Harness(local_app, client, clock, local_settings, url=local_url), upstream)


async def _federated_sign_in(p: Pair, upstream_headers: dict[str, str]) -> httpx.Response:
    start = await p.local.client.get("/auth/federated/start", params={"return_to": "/me"})
    assert start.status_code == 302 and start.headers["location"].startswith(f"{p.upstream.url}/oauth/authorize")
    at_upstream = await p.upstream.client.get(start.headers["location"], headers=upstream_headers)
    assert at_upstream.status_code == 302, at_upstream.text
    back = at_upstream.headers["location"]
    assert back.startswith(f"{p.local.url}/auth/federated/callback")
    return await p.local.client.get(back)


async def test_upstream_sign_in_maps_roles_and_keeps_mfa(pair: Pair) -> None:
    p = pair
    # The person has an invited Tandem account; the upstream says they are a mentor.
    await p.local.make_user("ada@example.org", ["mentee"])
    upstream_user = await p.upstream.user("ada@example.org", ["mentor"])
    done = await _federated_sign_in(p, upstream_user.headers(csrf=False))
    assert done.status_code == 302 and done.headers["location"] == "/me", done.text
    cookie = done.headers["set-cookie"].split(";")[0]
    me = await p.local.client.get("/me", headers={"cookie": cookie})
    assert me.status_code == 200 and me.json()["email"] == "ada@example.org" and me.json()["roles"] == ["mentor"]
    # The state is single use: replaying the callback does nothing.
    replay = await p.local.client.get("/auth/federated/callback", params={"state": "x", "code": "y"})
    assert replay.status_code == 400 and "set-cookie" not in replay.headers

    # An upstream admin signed in with TOTP: the ID token says so (amr), so admin is allowed here too.
    await p.local.make_user("boss@example.org", ["mentor"])
    boss = await p.upstream.user("boss@example.org", ["admin"])
    done = await _federated_sign_in(p, boss.headers(csrf=False))
    assert done.status_code == 302, done.text
    me = await p.local.client.get("/me", headers={"cookie": done.headers["set-cookie"].split(";")[0]})
    assert me.json()["roles"] == ["admin"]

    # Mapped to admin here, but the upstream sign-in used no second factor: refused.
    await p.local.make_user("ops@example.org", ["mentor"])
    ops = await p.upstream.user("ops@example.org", ["operator"])
    refused = await _federated_sign_in(p, ops.headers(csrf=False))
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    ops_local = await p.local.gw.users.state(p.local.users["ops@example.org"])
    assert ops_local is not None and ops_local.roles == ("mentor",)  # nothing changed on a refused sign-in


async def test_unknown_people_are_not_let_in_without_provisioning(pair: Pair) -> None:
    p = pair
    stranger = await p.upstream.user("stranger@example.org", ["mentee"])
    refused = await _federated_sign_in(p, stranger.headers(csrf=False))
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    assert (await p.local.client.get("/auth/federated/start", params={"return_to": "https://evil.example"})
            ).status_code == 302  # an outside return_to is replaced by "/", never followed


async def test_federation_off_by_default(harness: Harness) -> None:
    assert (await harness.client.get("/auth/federated/start")).status_code == 404
