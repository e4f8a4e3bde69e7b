"""The authenticated caller as a dependency of the gateway's own endpoints (`caller: Caller`)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from services.gateway.auth.caller import Caller
from services.gateway.auth.rules import ENDPOINTS
from services.gateway.auth.service import Authenticator


async def provide_caller(request: Request[Any, Any, Any], auth: NamedDependency[Authenticator]) -> Caller:
    client = request.client.host if request.client else "unknown"
    return await auth.caller(request.headers, request.method, client, ENDPOINTS)


DEPENDENCIES = {"caller": Provide(provide_caller)}
