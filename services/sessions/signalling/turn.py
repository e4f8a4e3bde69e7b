"""ICE servers for a join, with time-limited TURN credentials (coturn REST API, `use-auth-secret`):
username = "<expiry unix time>:<user id>", credential = base64(HMAC-SHA1(secret, username))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from services.sessions.signalling.messages import IceServer


def turn_credential(secret: str, user_id: str, now: float, ttl_s: int) -> tuple[str, str]:
    username = f"{int(now) + ttl_s}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(urls: tuple[str, ...], secret: str, user_id: str, now: float, ttl_s: int) -> list[IceServer]:
    stun = [u for u in urls if u.startswith("stun:")]
    turn = [u for u in urls if u.startswith(("turn:", "turns:"))]
    out = [IceServer(urls=stun)] if stun else []
    if turn:
        username, credential = turn_credential(secret, user_id, now, ttl_s)
        out.append(IceServer(urls=turn, username=username, credential=credential))
    return out


def recorder_ttl_s(ttl_s: int, room_ends_at: datetime, close_after_s: int, now: datetime) -> int:
    """The server's own recorder has no renewal: its credential lasts while the room can be open.
    (Members' credentials stay short: theirs are renewed only while they may be in the call.)"""
    return max(ttl_s, int((room_ends_at - now).total_seconds()) + close_after_s)
