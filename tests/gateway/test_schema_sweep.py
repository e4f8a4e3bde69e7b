"""Every operation in the gateway's OpenAPI schema, fed malformed input by each kind of caller: nothing
5xx, no stack trace, every error is problem+json or an OAuth error body (tests/support/sweep.py). The
hand-picked cases with their meaning are in test_bad_input.py."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import pytest

from tests.support.gateway import Harness
from tests.support.sweep import sweep

pytestmark = pytest.mark.integration

# Not plain HTTP operations of the gateway: the proxy (tested with real upstreams) and the web app's files.
SKIP = re.compile(r"^/api/|^/$|^/static/")


async def test_every_operation_refuses_bad_input_cleanly(harness: Harness) -> None:
    h = harness
    signed_in = {"mentee": (await h.user("mia@example.org", ["mentee"])).headers(),
                 "admin": (await h.user("ada@example.org", ["admin"])).headers(),
                 "safeguarding+operator": (await h.user("sam@example.org", ["safeguarding", "operator"])).headers(),
                 "anonymous": {},
                 "forged cookie": {"cookie": f"{h.settings.cookie_name}=forged", "x-csrf-token": "forged"}}
    callers: dict[str, Callable[[], dict[str, str]]] = {
        who: functools.partial(dict, headers) for who, headers in signed_in.items()}
    seen = await sweep(h.client, h.app.openapi_schema.to_schema(), callers, skip=SKIP, min_operations=30)
    assert seen[200] and seen[400] and seen[403] and seen[404], seen  # handlers were reached, not only auth
