"""Every operation in the sessions service's OpenAPI schema, fed malformed input by every role and
without an assertion: nothing 5xx, no stack trace, problem+json errors (tests/support/sweep.py)."""

from __future__ import annotations

import pytest

from tests.support.sessions import Api
from tests.support.sweep import ROLE_PEOPLE, assertion_callers, sweep

pytestmark = pytest.mark.integration


async def test_every_operation_refuses_bad_input_cleanly(api: Api) -> None:
    await api.active_pairing()
    seen = await sweep(api.client, api.client.app.openapi_schema.to_schema(),
                       assertion_callers(api.issuer, "sessions", ROLE_PEOPLE), min_operations=10)
    assert seen[400] and seen[401] and seen[403] and seen[404], seen  # handlers were reached, not only auth
