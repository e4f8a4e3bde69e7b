"""A sweep of every operation in a service's OpenAPI schema with malformed input, by each kind of caller:
nothing answers 5xx or shows a stack trace, and every error body is problem+json (or, for the OAuth
endpoints, an RFC 6749 JSON error). Hand-written tests cover the meaning of each error; this sweep makes
sure no operation, including one added later, was left out."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.support.identity import TestIssuer

BODIES: list[bytes] = [b"", b"{", b"[]", b"null", b'{"unknown": 1}', b"\xff\xfe\x00",
                       b'{"email": 5, "password": [], "roles": "admin", "token": {}, "kind": null, "status": 7,'
                       b' "pairing_id": [], "text": 1, "starts_at": "yesterday", "category": {}}']
PARAMS = ["x", "%00", "a" * 300, "0123456789abcdef0123456789abcdef"]
QUERIES = ["?limit=-1&cursor=%ff&before=yesterday&pairing_id=", "?grant_type=&client_id=%00&redirect_uri=javascript:1"]


def operations(schema: dict[str, Any], skip: re.Pattern[str] | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, body media types): JSON always (the wrong type is input too), plus what the
    operation declares (the OAuth endpoints take forms)."""
    ops = []
    for path, item in schema["paths"].items():
        if skip is not None and skip.search(path):
            continue
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                declared = (op.get("requestBody") or {}).get("content") or {}
                kinds = ("application/json", *sorted(set(declared) - {"application/json"}))
                ops.append((method.upper(), path, kinds))
    # Logging out ends the caller's session: last, so every other operation sees a signed-in caller.
    return sorted(ops, key=lambda op: ("logout" in op[1], op))


def check(where: str, r: Any) -> None:
    what = (where, r.status_code, r.text[:200])
    assert r.status_code < 500, what
    assert "Traceback" not in r.text and 'File "' not in r.text, what
    if r.status_code >= 400 and r.content:
        kind = r.headers.get("content-type", "")
        assert kind.startswith(("application/problem+json", "application/json")), what


async def sweep(client: Any, schema: dict[str, Any], callers: dict[str, Callable[[], dict[str, str]]], *,
                skip: re.Pattern[str] | None = None, min_operations: int = 1) -> Counter[int]:
    """Send every operation, with every bad path value, query and body, as every caller (a function
    giving the caller's headers, called for each operation: identity assertions live 30 s); returns the
    statuses seen (so a test can check the sweep reached the handlers, not only the auth layer)."""
    ops = operations(schema, skip)
    assert len(ops) >= min_operations, ops  # the schema really lists the API
    seen: Counter[int] = Counter()
    for who, make_headers in callers.items():
        for method, template, body_kinds in ops:
            headers = make_headers()
            paths = [re.sub(r"\{[^}]+\}", value, template) for value in PARAMS]
            # Each bad path value once, then the bad queries and bodies on the first one.
            requests: list[tuple[str, bytes | None, dict[str, str]]] = [(path, None, {}) for path in paths]
            requests += [(paths[0] + query, None, {}) for query in QUERIES]
            if method in {"POST", "PUT", "PATCH"}:
                requests += [(paths[0], body, {"content-type": kind}) for body in BODIES for kind in body_kinds]
            for path, body, extra in requests:
                r = await client.request(method, path, content=body, headers={**headers, **extra})
                check(f"{who} {method} {path} {extra} {(body or b'')[:20]!r}", r)
                seen[r.status_code] += 1
    return seen


def assertion_callers(issuer: TestIssuer, audience: str, people: dict[str, tuple[str, list[str]]]
                      ) -> dict[str, Callable[[], dict[str, str]]]:
    """Callers of an internal service: each person with a fresh gateway assertion, and a request that
    bypasses the gateway (its other forms, forged and expired assertions: tests/shared/test_identity.py)."""
    callers: dict[str, Callable[[], dict[str, str]]] = {
        who: functools.partial(issuer.headers, sub, roles, audience) for who, (sub, roles) in people.items()}
    callers["no assertion"] = dict
    return callers


ROLE_PEOPLE: dict[str, tuple[str, list[str]]] = {
    "mentee": ("u-mentee", ["mentee"]), "mentor": ("u-mentor", ["mentor"]), "admin": ("u-admin", ["admin"]),
    "safeguarding": ("u-safe", ["safeguarding"]), "operator": ("u-operator", ["operator"]),
    "service": ("svc-sessions", ["service"]),
}
