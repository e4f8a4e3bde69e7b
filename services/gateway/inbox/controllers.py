"""`GET /me/inbox`: the signed-in user's notices (cookie or bearer)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from services.gateway.auth.caller import Caller, need_user
from services.gateway.inbox.service import Inbox
from shared.http import NotFound


class InboxItem(msgspec.Struct):
    id: str
    kind: str  # the event type, e.g. "record.accessed", "pairing.proposed", "report.urgent"
    subject_id: str
    facts: dict[str, Any]
    created_at: str
    read: bool


class InboxPage(msgspec.Struct):
    items: list[InboxItem]
    unread: int


class Done(msgspec.Struct):
    ok: bool = True


@get("/me/inbox", tags=["me"])
async def my_inbox(inbox: NamedDependency[Inbox], caller: NamedDependency[Caller],
                   unread_only: Annotated[bool, QueryParameter()] = False,
                   limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50) -> InboxPage:
    """Notices for the signed-in user, newest first."""
    items, unread = await inbox.items(need_user(caller), unread_only=unread_only, limit=limit)
    return InboxPage(items=msgspec.convert(items, list[InboxItem]), unread=unread)


@post("/me/inbox/{item_id:str}/read", tags=["me"], status_code=200)
async def mark_read(inbox: NamedDependency[Inbox], caller: NamedDependency[Caller], item_id: FromPath[str]) -> Done:
    """Mark one notice as read."""
    if not await inbox.mark_read(need_user(caller), item_id[:64]):
        raise NotFound("No such notice.")
    return Done()


ROUTES = [my_inbox, mark_read]
