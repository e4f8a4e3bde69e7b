"""The proxy's memory of checked credentials (no servers: the cache's own rules)."""

from __future__ import annotations

from typing import Any

from services.gateway.auth.cache import AuthCache


def _cache(ttl: float = 2.0) -> AuthCache:
    cache = AuthCache(redis=None, ttl_s=ttl)  # type: ignore[arg-type] - nothing here publishes
    cache.on_subscription(True)
    return cache


def test_remembers_for_the_ttl_only() -> None:
    cache = _cache()
    cache.put("s:1", "u1", "v", now=100.0, generation=cache.generation)
    assert cache.get("s:1", 101.9) == "v"
    assert cache.get("s:1", 102.0) is None
    assert cache.get("s:1", 100.5) is None  # gone for good once expired


def test_a_check_that_started_before_an_announcement_is_not_remembered() -> None:
    cache = _cache()
    started = cache.generation
    cache.on_message("auth:someone-else")  # any announcement in between voids the read
    cache.put("s:1", "u1", "v", now=100.0, generation=started)
    assert cache.get("s:1", 100.1) is None


def test_announcements_forget_only_that_user() -> None:
    cache = _cache()
    for key, uid in (("s:1", "u1"), ("t:2", "u1"), ("s:3", "u2")):
        cache.put(key, uid, key, now=100.0, generation=cache.generation)
    cache.on_message("user:u1")
    assert cache.get("s:1", 100.1) is None and cache.get("t:2", 100.1) is None
    assert cache.get("s:3", 100.1) == "s:3"
    cache.on_message("auth:u2")
    assert cache.get("s:3", 100.1) is None
    cache.put("s:4", "u3", "x", now=100.0, generation=cache.generation)
    cache.on_message("sid:abc")  # sockets only; the session's end is announced as auth:<user> too
    assert cache.get("s:4", 100.1) == "x"


def test_nothing_is_remembered_while_unsubscribed_or_disabled() -> None:
    cache = _cache()
    cache.put("s:1", "u1", "v", now=100.0, generation=cache.generation)
    cache.on_subscription(False)
    assert cache.get("s:1", 100.1) is None
    cache.put("s:1", "u1", "v", now=100.0, generation=cache.generation)
    assert cache.get("s:1", 100.1) is None
    cache.on_subscription(True)  # back: starts empty
    assert cache.get("s:1", 100.1) is None
    off: Any = _cache(ttl=0)
    off.put("s:1", "u1", "v", now=100.0, generation=off.generation)
    assert off.get("s:1", 100.0) is None
