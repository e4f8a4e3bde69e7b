"""Profile routes (the gateway exposes them under /api/sessions/profiles)."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from services.sessions.profiles.schemas import MentorCard, ProfileIn, ProfileOut
from services.sessions.profiles.service import Profiles
from shared.http import require_roles
from shared.identity import Identity
from shared.service import Runtime

Yours = NamedDependency[Profiles]
MEMBERS = ("mentee", "mentor")


def _yours(runtime: NamedDependency[Runtime], identity: NamedDependency[Identity]) -> Profiles:
    return Profiles(runtime=runtime).acting_for(identity)


class ProfileController(Controller):
    path = "/profiles"
    tags = ["profiles"]
    dependencies = {"yours": Provide(_yours, sync_to_thread=False)}

    @get("/me", guards=[require_roles(*MEMBERS)])
    async def mine(self, yours: Yours) -> ProfileOut:
        """Your profile (empty until you write it)."""
        return await yours.mine()

    @put("/me", guards=[require_roles(*MEMBERS)])
    async def save_mine(self, yours: Yours, data: JSONBody[ProfileIn]) -> ProfileOut:
        """A mentor's biography, areas, languages and capacity (mentees: areas and languages)."""
        return await yours.save_mine(data)

    @get("/mentors", guards=[require_roles("mentee", "mentor", "admin")])
    async def mentors(self, yours: Yours) -> list[MentorCard]:
        """The mentors who can be chosen now, with their biographies."""
        return await yours.mentors()

    @get("/{user_id:str}", guards=[require_roles("admin")])
    async def of(self, yours: Yours, user_id: FromPath[str]) -> ProfileOut:
        """A member's profile (admins)."""
        return await yours.of(user_id)


ROUTES: list[ControllerRouterHandler] = [ProfileController]
