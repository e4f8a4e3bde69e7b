"""A captured identity assertion is useless: it is bound to the request it was minted for and accepted
once by its audience, on every instance (shared Redis). When the single-use record cannot be made, the
check fails closed with a distinct error (503 at the HTTP layer, tests/shared/test_logging.py), never
with an acceptance."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from deploy.local.children import start_redis
from shared.identity import (
    AssertionCheckUnavailable,
    AssertionVerifier,
    InvalidAssertion,
    RedisReplayGuard,
    StaticKeys,
    request_target,
)
from tests.support.identity import TestIssuer


def verifier(issuer: TestIssuer, redis: Redis, audience: str = "records") -> AssertionVerifier:
    jwks = {"keys": [issuer.key.as_dict(private=False)]}
    return AssertionVerifier(StaticKeys(jwks), audience=audience, issuer="tandem-gateway",
                             replay=RedisReplayGuard(redis, timeout_s=0.5))


async def refused(v: AssertionVerifier, token: str, method: str, target: str) -> str:
    with pytest.raises(InvalidAssertion) as exc:
        await v.verify(token, method=method, target=target)
    return str(exc.value)


async def test_an_assertion_is_bound_to_its_method_path_and_query(issuer: TestIssuer, redis: Redis) -> None:
    v = verifier(issuer, redis)
    target = request_target("/notes/n1", "full=1")
    assert target == "/notes/n1?full=1"
    for method, other in (("DELETE", target), ("GET", "/notes/n2?full=1"), ("GET", "/notes/n1"),
                          ("GET", "/notes/n1?full=0"), ("WS", target), ("GET", "/notes/n1/?full=1"),
                          ("GET", "/notes/%6E1?full=1")):
        token = issuer.token("u1", ["mentor"], "records", method="GET", target=target)
        assert await refused(v, token, method, other) == "binding"
    # Unbound (or half-bound) assertions are refused too: the binding is not optional.
    for partial in (issuer.token("u1", ["mentor"], "records"), issuer.token("u1", ["mentor"], "records", method="GET"),
                    issuer.token("u1", ["mentor"], "records", target=target)):
        assert await refused(v, partial, "GET", target) == "binding"
    ok = await v.verify(issuer.token("u1", ["mentor"], "records", method="GET", target=target), method="GET",
                        target=target)
    assert ok.sub == "u1"


async def test_an_assertion_is_used_once_on_every_instance(issuer: TestIssuer, redis_url: str) -> None:
    # Two instances of one service: their own verifiers and Redis connections, one Redis server.
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        a, b = verifier(issuer, first), verifier(issuer, second)
        token = issuer.token("u1", ["mentor"], "records", method="POST", target="/recordings")
        assert (await a.verify(token, method="POST", target="/recordings")).sub == "u1"
        assert await refused(a, token, "POST", "/recordings") == "replayed"
        assert await refused(b, token, "POST", "/recordings") == "replayed"
        other = issuer.token("u1", ["mentor"], "records", method="POST", target="/recordings")
        assert (await b.verify(other, method="POST", target="/recordings")).sub == "u1"
        assert await refused(a, other, "POST", "/recordings") == "replayed"
        # The record lasts as long as the assertion could be valid (exp + leeway), then goes.
        keys = [k async for k in first.scan_iter(match=f"{RedisReplayGuard.PREFIX}:records:*")]
        assert len(keys) == 2
        ttl = await first.ttl(keys[0])
        assert 0 < ttl <= 30 + a.leeway_s
        # A refused assertion spends nothing: one minted for another request does not burn its jti.
        bound = issuer.token("u1", ["mentor"], "records", method="GET", target="/a")
        assert await refused(a, bound, "GET", "/b") == "binding"
        assert (await a.verify(bound, method="GET", target="/a")).sub == "u1"
    finally:
        await first.aclose()
        await second.aclose()


async def test_jti_must_be_present_and_sane(issuer: TestIssuer, redis: Redis) -> None:
    v = verifier(issuer, redis)
    for jti in ("", "short", "x" * 65, "has space in it 0123"):
        token = issuer.token("u1", [], "records", method="GET", target="/", jti=jti)
        with pytest.raises(InvalidAssertion):
            await v.verify(token, method="GET", target="/")


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[tuple[Redis, int]]:
    """A redis-server of the test's own (it is killed or frozen) and a client on it."""
    child = start_redis(tmp_path / "redis")
    client = Redis.from_url(child.url, socket_timeout=None, socket_connect_timeout=1)
    try:
        yield client, child.proc.pid
    finally:
        os.kill(child.proc.pid, signal.SIGCONT)
        await client.aclose()
        child.stop()


async def test_redis_down_or_frozen_fails_closed(issuer: TestIssuer, own_redis: tuple[Redis, int]) -> None:
    client, pid = own_redis
    v = verifier(issuer, client)
    token = issuer.token("u1", [], "records", method="GET", target="/x")
    assert (await v.verify(token, method="GET", target="/x")).sub == "u1"
    os.kill(pid, signal.SIGSTOP)  # frozen: the check gives up after its timeout, it does not hang
    fresh = issuer.token("u1", [], "records", method="GET", target="/x")
    with pytest.raises(AssertionCheckUnavailable):
        await asyncio.wait_for(v.verify(fresh, method="GET", target="/x"), 30)  # (a hang fails as TimeoutError)
    os.kill(pid, signal.SIGKILL)  # gone: refused as unavailable, never accepted
    os.kill(pid, signal.SIGCONT)
    with pytest.raises(AssertionCheckUnavailable):
        await v.verify(issuer.token("u1", [], "records", method="GET", target="/x"), method="GET", target="/x")
