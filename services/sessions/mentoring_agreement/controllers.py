"""The pair's mentoring agreement (issue 17, item 3): the programme's template (admins publish it) and each
pairing's agreement, read and written by its two members only."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from services.sessions.adapters.vault import Vault
from services.sessions.mentoring_agreement.schemas import (
    AcceptIn,
    AgreementIn,
    AgreementOut,
    TemplateIn,
    TemplateOut,
    VersionOut,
)
from services.sessions.mentoring_agreement.service import Agreements
from shared.http import require_roles
from shared.identity import Identity
from shared.service import Runtime

# The feature service acting for the request's caller: handlers pass no identity on.
Yours = NamedDependency[Agreements]

# Admins pass the guard of a pairing's agreement but, never being one of its two members, get 404 like any
# other non-member; safeguarding, operators and services never act on it: 403.
PEOPLE = ("mentee", "mentor", "admin")
AGREEMENT = "/pairings/{pairing_id:str}/agreement"


def _acting_for_caller(runtime: NamedDependency[Runtime], vault: NamedDependency[Vault],
                       identity: NamedDependency[Identity]) -> Agreements:
    return Agreements(runtime=runtime, vault=vault).acting_for(identity)


class AgreementController(Controller):
    tags = ["mentoring agreement"]
    dependencies = {"yours": Provide(_acting_for_caller, sync_to_thread=False)}

    @get("/agreement-template", guards=[require_roles(*PEOPLE)])
    async def get_template(self, yours: Yours) -> TemplateOut:
        """The programme's agreement template (version 0: the built-in default)."""
        return await yours.template()

    @put("/agreement-template", guards=[require_roles("admin")])
    async def put_template(self, yours: Yours, data: JSONBody[TemplateIn]) -> TemplateOut:
        """An admin publishes a new template version (earlier versions are kept, agreements keep theirs)."""
        return await yours.publish_template(data)

    @get(AGREEMENT, guards=[require_roles(*PEOPLE)])
    async def get_agreement(self, yours: Yours, pairing_id: FromPath[str]) -> AgreementOut:
        """The pairing's latest version, who accepted it, and the version in force: the two members only."""
        return await yours.get(pairing_id)

    @put(AGREEMENT, guards=[require_roles(*PEOPLE)])
    async def put_agreement(self, yours: Yours, pairing_id: FromPath[str], data: JSONBody[AgreementIn]
                            ) -> AgreementOut:
        """A member writes a new version (base_version: the latest they saw, else 409). Both accept it again."""
        return await yours.edit(pairing_id, data)

    @post(f"{AGREEMENT}/accept", guards=[require_roles(*PEOPLE)], status_code=200)
    async def accept(self, yours: Yours, pairing_id: FromPath[str], data: JSONBody[AcceptIn]) -> AgreementOut:
        """A member accepts the latest version; it is in force once both have."""
        return await yours.accept(pairing_id, data.version)

    @get(f"{AGREEMENT}/versions", guards=[require_roles(*PEOPLE)])
    async def versions(self, yours: Yours, pairing_id: FromPath[str]) -> list[VersionOut]:
        """Every version with its texts, who wrote it and who accepted it: the two members only."""
        return await yours.versions(pairing_id)


ROUTES: list[ControllerRouterHandler] = [AgreementController]
