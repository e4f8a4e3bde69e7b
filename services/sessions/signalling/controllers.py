"""The signalling socket: `/sessions/{session_id}/signal` (the gateway exposes it as
`/api/sessions/sessions/{session_id}/signal`). The first frame must be `join`."""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.sessions.signalling.service import Signalling


@websocket("/sessions/{session_id:str}/signal")
async def signal(socket: WebSocket[Any, Any, Any], signalling: NamedDependency[Signalling],
                 session_id: FromPath[str]) -> None:
    """Signalling and consent for one session's room."""
    await signalling.serve(socket, session_id)
