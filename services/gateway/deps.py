"""Dependencies of the gateway's own endpoints: the Gateway resources and the authenticated caller."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from services.gateway.core import Caller, Gateway
from shared.http import Forbidden


def provide_gateway(state: State) -> Gateway:
    return state.runtime.extras["gateway"]  # type: ignore[no-any-return]


async def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    gw: Gateway = request.app.state.runtime.extras["gateway"]
    caller = await gw.caller(request)
    assert caller is not None  # noqa: S101 - required=True raises instead
    return caller


def need(caller: Caller, *roles: str) -> None:
    """403 unless the caller holds one of `roles`."""
    if not caller.has(*roles):
        raise Forbidden("Your role does not allow this.")


def need_user(caller: Caller) -> str:
    """The caller's user id; service accounts have no personal pages."""
    if caller.user_id is None:
        raise Forbidden("Service accounts cannot use this endpoint.")
    return caller.user_id


DEPENDENCIES = {
    "gw": Provide(provide_gateway, sync_to_thread=False),
    "caller": Provide(provide_caller),
}
