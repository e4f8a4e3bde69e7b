"""Check-in routes (issue 17, item 5). Answers are read by admins, and by the member who gave them; never by
the partner, other members, safeguarding or operators."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from services.sessions.adapters.vault import Vault
from services.sessions.checkins.schemas import (
    AnswerIn,
    AnswerOut,
    ChangePlan,
    CreatePlan,
    MyAnswerOut,
    MyCheckin,
    PlanOut,
    SettingsIn,
    SettingsOut,
)
from services.sessions.checkins.service import Checkins
from shared.http import require_roles
from shared.identity import Identity
from shared.service import Runtime

# The feature service acting for the request's caller: handlers pass no identity on.
Yours = NamedDependency[Checkins]

MEMBERS = ("mentor", "mentee")
ADMIN = require_roles("admin")


def _checkins(runtime: NamedDependency[Runtime], vault: NamedDependency[Vault],
              identity: NamedDependency[Identity]) -> Checkins:
    return Checkins(runtime=runtime, vault=vault).acting_for(identity)


class CheckinController(Controller):
    path = "/checkins"
    tags = ["check-ins"]
    dependencies = {"yours": Provide(_checkins, sync_to_thread=False)}

    @get("/settings", guards=[require_roles("admin", *MEMBERS)])
    async def get_settings(self, yours: Yours) -> SettingsOut:
        """Whether this programme has check-ins (off by default), their default cadence and grace days."""
        return await yours.settings()

    @put("/settings", guards=[ADMIN])
    async def put_settings(self, yours: Yours, data: JSONBody[SettingsIn]) -> SettingsOut:
        """Turn check-ins on or off for the programme; set the default cadence and the grace days."""
        return await yours.set_settings(data)

    @post("/plans", guards=[ADMIN], status_code=201)
    async def create_plan(self, yours: Yours, data: JSONBody[CreatePlan]) -> PlanOut:
        """Schedule regular check-ins with a mentor or mentee (409 while check-ins are off)."""
        return await yours.create_plan(data)

    @get("/plans", guards=[ADMIN])
    async def list_plans(self, yours: Yours) -> list[PlanOut]:
        """Every plan: next due date, last answer, overdue, and answers needing attention."""
        return await yours.list_plans()

    @put("/plans/{user_id:str}", guards=[ADMIN])
    async def change_plan(self, yours: Yours, user_id: FromPath[str], data: JSONBody[ChangePlan]) -> PlanOut:
        """Change a member's cadence (and optionally the next due date)."""
        return await yours.change_plan(user_id, data)

    @delete("/plans/{user_id:str}", guards=[ADMIN], status_code=204)
    async def delete_plan(self, yours: Yours, user_id: FromPath[str]) -> None:
        """Stop check-ins with a member; their past answers stay."""
        await yours.delete_plan(user_id)

    @get("/me", guards=[require_roles(*MEMBERS)])
    async def mine(self, yours: Yours) -> MyCheckin:
        """Your check-ins: whether you have them, when the next is due, whether one is waiting now, and
        where to raise a concern at any time."""
        return await yours.mine()

    @post("/me", guards=[require_roles(*MEMBERS)], status_code=201)
    async def answer(self, yours: Yours, data: JSONBody[AnswerIn]) -> MyAnswerOut:
        """Answer the check-in that is due (409 when none is). Seen by admins only, never by your partner."""
        return await yours.answer(data)

    @get("/me/answers", guards=[require_roles(*MEMBERS)])
    async def my_answers(self, yours: Yours) -> list[MyAnswerOut]:
        """Your own past answers."""
        return await yours.my_answers()

    @get("/answers/{user_id:str}", guards=[ADMIN])
    async def answers_of(self, yours: Yours, user_id: FromPath[str]) -> list[AnswerOut]:
        """A member's answers, comments included (admins only)."""
        return await yours.answers_of(user_id)

    @post("/answers/{checkin_id:str}/acknowledge", guards=[ADMIN], status_code=200)
    async def acknowledge(self, yours: Yours, checkin_id: FromPath[str]) -> AnswerOut:
        """An admin has followed up an answer that needed attention."""
        return await yours.acknowledge(checkin_id)


ROUTES: list[ControllerRouterHandler] = [CheckinController]
