"""Small helpers shared by the controllers."""

from __future__ import annotations

from services.records.core.context import Records
from shared.service import Runtime

MEMBER_ROLES = ("mentee", "mentor")


def records_of(runtime: Runtime) -> Records:
    rec: Records = runtime.extras["records"]
    return rec
