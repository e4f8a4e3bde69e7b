"""Resource routes (the gateway exposes them under /api/sessions/resources)."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from services.sessions.resources.schemas import ResourceIn, ResourceOut
from services.sessions.resources.service import Resources
from shared.http import require_roles
from shared.identity import Identity
from shared.service import Runtime

Yours = NamedDependency[Resources]
ADMIN = require_roles("admin")


def _yours(runtime: NamedDependency[Runtime], identity: NamedDependency[Identity]) -> Resources:
    return Resources(runtime=runtime).acting_for(identity)


class ResourceController(Controller):
    path = "/resources"
    tags = ["resources"]
    dependencies = {"yours": Provide(_yours, sync_to_thread=False)}

    @get("/", guards=[require_roles("mentee", "mentor", "admin", "safeguarding")])
    async def list_resources(self, yours: Yours) -> list[ResourceOut]:
        """The programme's guides, templates and policies."""
        return await yours.all()

    @post("/", guards=[ADMIN], status_code=201)
    async def publish(self, yours: Yours, data: JSONBody[ResourceIn]) -> ResourceOut:
        return await yours.publish(data)

    @put("/{resource_id:str}", guards=[ADMIN])
    async def change(self, yours: Yours, resource_id: FromPath[str], data: JSONBody[ResourceIn]) -> ResourceOut:
        return await yours.change(resource_id, data)

    @delete("/{resource_id:str}", guards=[ADMIN], status_code=204)
    async def withdraw(self, yours: Yours, resource_id: FromPath[str]) -> None:
        await yours.withdraw(resource_id)


ROUTES: list[ControllerRouterHandler] = [ResourceController]
