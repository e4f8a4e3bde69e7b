"""Assertions minted one request ahead (services/gateway/proxy/assertions.py): each is handed out once,
only to exactly the identity, audience and key it was minted for, only while fresh, and never after a
revocation was announced. The signer is a counter here; test_proxy.py checks real assertions end to end."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from services.gateway.config import Settings
from services.gateway.core import Caller
from services.gateway.proxy.assertions import AssertionMinter
from shared.config import ConfigError, load_settings

MENTEE = Caller(sub="u1", roles=("mentee",), sid="s1", via="cookie")


class Cache:
    generation = 0


class Rig:
    def __init__(self, max_age_s: float = 5.0) -> None:
        self.now = 1000.0
        self.kid = "a-1"
        self.cache = Cache()
        self.serial = itertools.count(1)
        self.minted: list[str] = []
        self.failing = False
        self.minter = AssertionMinter(self.mint, lambda: self.kid, lambda: self.now, self.cache,  # type: ignore[arg-type]
                                      max_age_s=max_age_s)

    def mint(self, caller: Caller, audience: str) -> str:
        if self.failing:
            raise RuntimeError("no active key")
        token = f"{caller.sub}/{','.join(caller.roles)}/{caller.sid}/{audience}/{self.kid}#{next(self.serial)}"
        self.minted.append(token)
        return token

    async def take(self, caller: Caller = MENTEE, audience: str = "records") -> str:
        token = self.minter.take(caller, audience)
        self.minter.mint_due()  # as the proxy does once the response is out
        await asyncio.sleep(0)  # the turn of the loop in which the next one is minted
        return token


async def test_a_lone_request_signs_once_and_mints_nothing_ahead() -> None:
    rig = Rig()
    assert await rig.take() == "u1/mentee/s1/records/a-1#1"
    assert rig.minter.pending() == 0 and len(rig.minted) == 1


async def test_a_burst_takes_each_assertion_once_minted_ahead() -> None:
    rig = Rig()
    first = await rig.take()
    token = rig.minter.take(MENTEE, "records")  # seen twice within max_age: the next one is due...
    await asyncio.sleep(0)
    assert rig.minter.pending() == 0  # ...but only minted once the response is out
    rig.minter.mint_due()
    await asyncio.sleep(0)
    second = token
    assert rig.minter.pending() == 1 and len(rig.minted) == 3
    third = await rig.take()
    assert third == rig.minted[2]  # the one minted ahead, handed out once
    assert len({first, second, third}) == 3 and len(rig.minted) == 4 and rig.minter.pending() == 1


async def test_only_the_exact_identity_audience_and_key_match() -> None:
    rig = Rig()
    await rig.take()
    await rig.take()
    ahead = rig.minted[-1]
    others = [Caller(sub="u1", roles=("mentee", "mentor"), sid="s1", via="cookie"),
              Caller(sub="u1", roles=("mentee",), sid="s2", via="cookie"),
              Caller(sub="u2", roles=("mentee",), sid="s1", via="cookie")]
    for other in others:
        assert await rig.take(other) != ahead
    assert await rig.take(audience="sessions") != ahead
    rig.kid = "a-2"  # a rotated signing key
    token = await rig.take()
    assert token != ahead and token.split("#")[0].endswith("/a-2")


async def test_a_stale_assertion_is_thrown_away() -> None:
    rig = Rig(max_age_s=5.0)
    await rig.take()
    await rig.take()
    ahead = rig.minted[-1]
    rig.now += 5.5
    assert await rig.take() != ahead


async def test_a_revocation_announced_after_minting_voids_it() -> None:
    rig = Rig()
    await rig.take()
    await rig.take()
    ahead = rig.minted[-1]
    other = Caller(sub="u2", roles=("mentor",), sid="s9", via="cookie")
    await rig.take(other)
    await rig.take(other)
    assert rig.minter.pending() == 2
    rig.cache.generation += 1  # e.g. a suspension or logout announced to the credential cache
    assert await rig.take() != ahead
    assert rig.minter.pending() == 1  # everything minted before the announcement is gone; one new one ahead


async def test_zero_turns_minting_ahead_off() -> None:
    rig = Rig(max_age_s=0)
    for _ in range(3):
        await rig.take()
    assert rig.minter.pending() == 0 and len(rig.minted) == 3


async def test_a_signing_failure_ahead_is_left_to_the_request_that_needs_it() -> None:
    rig = Rig()
    await rig.take()
    rig.minter.take(MENTEE, "records")  # signed now; the next one is due once the response is out
    rig.minter.mint_due()
    rig.failing = True
    await asyncio.sleep(0)  # e.g. no active key: nothing is kept, nothing is raised into the loop
    assert rig.minter.pending() == 0
    rig.failing = False
    assert (await rig.take()) == rig.minted[-2]


def test_the_window_is_checked_against_the_lifetime() -> None:
    base = {"GATEWAY_ISSUER": "https://tandem.example.org"}
    assert load_settings(Settings, "GATEWAY", base).assertion_ahead_s == 5.0
    for bad in ("-1", "16", "soon"):  # default lifetime 30 s: at most half of it
        with pytest.raises(ConfigError, match="GATEWAY_ASSERTION_AHEAD_S"):
            load_settings(Settings, "GATEWAY", {**base, "GATEWAY_ASSERTION_AHEAD_S": bad})
    assert load_settings(Settings, "GATEWAY", {**base, "GATEWAY_ASSERTION_AHEAD_S": "0"}).assertion_ahead_s == 0
