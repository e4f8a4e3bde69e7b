"""Every operation in the records service's OpenAPI schema, fed malformed input by every role and
without an assertion: nothing 5xx, no stack trace, problem+json errors (tests/support/sweep.py)."""

from __future__ import annotations

import pytest

from tests.support.records import Harness
from tests.support.sweep import ROLE_PEOPLE, assertion_callers, sweep

pytestmark = pytest.mark.integration


async def test_every_operation_refuses_bad_input_cleanly(harness: Harness) -> None:
    h = harness
    await h.pair("p1", "u-mentor", "u-mentee")
    seen = await sweep(h.client, h.app.openapi_schema.to_schema(),
                       assertion_callers(h.issuer, "records", ROLE_PEOPLE), min_operations=15)
    assert seen[400] and seen[401] and seen[403] and seen[404], seen  # handlers were reached, not only auth
