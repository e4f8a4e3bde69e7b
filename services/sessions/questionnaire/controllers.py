"""Questionnaire routes (the gateway exposes them under /api/sessions/questionnaire)."""

from __future__ import annotations

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from services.sessions.adapters.vault import Vault
from services.sessions.questionnaire.schemas import AnswersIn, AnswersOut, QuestionnaireIn, QuestionnaireOut
from services.sessions.questionnaire.service import Questionnaires
from shared.http import require_roles
from shared.identity import Identity
from shared.service import Runtime

Yours = NamedDependency[Questionnaires]
MEMBERS = ("mentee", "mentor")


def _yours(runtime: NamedDependency[Runtime], vault: NamedDependency[Vault],
           identity: NamedDependency[Identity]) -> Questionnaires:
    return Questionnaires(runtime=runtime, vault=vault).acting_for(identity)


class QuestionnaireController(Controller):
    path = "/questionnaire"
    tags = ["questionnaire"]
    dependencies = {"yours": Provide(_yours, sync_to_thread=False)}

    @get("/", guards=[require_roles("mentee", "mentor", "admin")])
    async def current(self, yours: Yours) -> QuestionnaireOut:
        """The questionnaire in use (version 0 with no questions until an admin publishes one)."""
        return await yours.current()

    @put("/", guards=[require_roles("admin")])
    async def publish(self, yours: Yours, data: JSONBody[QuestionnaireIn]) -> QuestionnaireOut:
        """A new version; answers to older versions are kept and count where their questions still fit."""
        return await yours.publish(data.questions)

    @get("/answers/me", guards=[require_roles(*MEMBERS)])
    async def mine(self, yours: Yours) -> AnswersOut:
        return await yours.mine()

    @put("/answers/me", guards=[require_roles(*MEMBERS)])
    async def answer(self, yours: Yours, data: JSONBody[AnswersIn]) -> AnswersOut:
        """Replaces your answers. Answers to special questions need `special_consent: true`."""
        return await yours.answer(data)

    @delete("/answers/me/special", guards=[require_roles(*MEMBERS)], status_code=200)
    async def withdraw_special(self, yours: Yours) -> AnswersOut:
        """Withdraw consent: your answers about identity are shredded at once."""
        return await yours.withdraw_special()

    @get("/answers/{user_id:str}", guards=[require_roles("admin")])
    async def of(self, yours: Yours, user_id: FromPath[str]) -> AnswersOut:
        """A member's answers, special ones included, for matching (admins); every read is audited."""
        return await yours.of(user_id)


ROUTES: list[ControllerRouterHandler] = [QuestionnaireController]
