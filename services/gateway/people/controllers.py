"""`GET /me/people`: display names for ids the caller may know (cookie or bearer)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from services.gateway.auth.caller import Caller, need_user
from services.gateway.people.service import visible_people
from shared.http import BadRequest
from shared.service import Runtime

MAX_IDS = 100
UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class Person(msgspec.Struct, frozen=True):
    id: str
    display_name: str


class People(msgspec.Struct, frozen=True):
    people: list[Person]


@get("/me/people", tags=["me"], summary="Display names of people you may know")
async def my_people(runtime: NamedDependency[Runtime], caller: NamedDependency[Caller],
                    ids: Annotated[list[UserId] | None, QueryParameter(
                        name="id", description="User ids to name (repeatable, at most 100). Without it: the "
                                                "people you are paired with.")] = None) -> People:
    """Admins and safeguarding officers may name any user; mentees and mentors the people they are or
    were paired with, and mentees also the programme's active, vetted mentors (whose biographies they
    browse to choose). Ids you may not know are left out, the same as ids that do not exist."""
    user_id = need_user(caller)
    if ids is not None and len(ids) > MAX_IDS:
        raise BadRequest(f"Ask for at most {MAX_IDS} ids at once.")
    found = await visible_people(runtime.engine, user_id, caller.roles, ids)
    return People(people=[Person(id=i, display_name=n) for i, n in found])


ROUTES = [my_people]
