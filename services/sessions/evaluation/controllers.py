"""Evaluation routes (issue 17, item 6): a member's private reflection on a pairing, the programme's survey,
the answers, and the results admins read in aggregate only (the gateway exposes them under /api/sessions)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from services.sessions.adapters.vault import Vault
from services.sessions.evaluation.schemas import (
    PublishSurvey,
    ReflectionOut,
    ResponseReceipt,
    ResultsOut,
    SubmitResponse,
    SurveyOut,
    WriteReflection,
)
from services.sessions.evaluation.service import Evaluation
from shared.http import require_roles
from shared.identity import Identity
from shared.service import Runtime

# The feature service acting for the request's caller: handlers pass no identity on.
Yours = NamedDependency[Evaluation]

MEMBERS = ("mentor", "mentee")
BY_PATTERN = "^(none|role)$"
MAX_VERSION = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL
Version = Annotated[int | None, QueryParameter(ge=1, le=MAX_VERSION, description="Survey version (default: current)")]
By = Annotated[str, QueryParameter(pattern=BY_PATTERN, description="role: split into mentor and mentee groups")]


def _yours(runtime: NamedDependency[Runtime], vault: NamedDependency[Vault],
           identity: NamedDependency[Identity]) -> Evaluation:
    return Evaluation(runtime=runtime, vault=vault).acting_for(identity)


class ReflectionController(Controller):
    """A member's own reflection on one of their pairings: nobody else ever reads it (partner and admins
    included); anyone but the two members gets 404."""

    path = "/pairings/{pairing_id:str}/reflection"
    tags = ["evaluation"]
    dependencies = {"yours": Provide(_yours, sync_to_thread=False)}

    @get("/", guards=[require_roles(*MEMBERS)])
    async def read_reflection(self, yours: Yours, pairing_id: FromPath[str]) -> ReflectionOut:
        """Your reflection on this pairing (text null when you have written none)."""
        return await yours.reflection(pairing_id)

    @put("/", guards=[require_roles(*MEMBERS)])
    async def write_reflection(self, yours: Yours, pairing_id: FromPath[str],
                               data: JSONBody[WriteReflection]) -> ReflectionOut:
        """Write or replace your reflection on an active or ended pairing (sealed, private to you)."""
        return await yours.write_reflection(pairing_id, data.text)

    @delete("/", guards=[require_roles(*MEMBERS)], status_code=204)
    async def erase_reflection(self, yours: Yours, pairing_id: FromPath[str]) -> None:
        """Erase your reflection: its data key is destroyed."""
        await yours.erase_reflection(pairing_id)


class SurveyController(Controller):
    path = "/evaluation"
    tags = ["evaluation"]
    dependencies = {"yours": Provide(_yours, sync_to_thread=False)}

    @put("/survey", guards=[require_roles("admin")])
    async def publish_survey(self, yours: Yours, data: JSONBody[PublishSurvey]) -> SurveyOut:
        """Publish a new version of the evaluation survey (closed questions only); it becomes current."""
        return await yours.publish(data)

    @get("/survey", guards=[require_roles(*MEMBERS, "admin")])
    async def read_survey(self, yours: Yours) -> SurveyOut:
        """The current version of the evaluation survey."""
        return await yours.current_survey()

    @post("/responses", guards=[require_roles(*MEMBERS)], status_code=201)
    async def submit_response(self, yours: Yours, data: JSONBody[SubmitResponse]) -> ResponseReceipt:
        """Answer the current survey version, once. Stored apart from who answered; admins see only counts."""
        return await yours.submit(data)

    @get("/results", guards=[require_roles("admin")])
    async def read_results(self, yours: Yours, version: Version = None, by: By = "none") -> ResultsOut:
        """Counts per question and option; a group of fewer than `min_group` respondents is suppressed."""
        return await yours.results(version, by)

    @get("/results.csv", guards=[require_roles("admin")], media_type="text/csv")
    async def export_results(self, yours: Yours, version: Version = None, by: By = "none") -> Response[str]:
        """The same aggregates as CSV (cells defended against formula injection)."""
        number, text = await yours.results_csv(version, by)
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            "content-disposition": f'attachment; filename="evaluation-survey-v{number}.csv"'})


ROUTES: list[ControllerRouterHandler] = [ReflectionController, SurveyController]
