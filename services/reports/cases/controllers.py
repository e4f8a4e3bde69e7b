"""Safeguarding routes. Every other role gets 403 before anything is looked up, so the answer
never depends on whether a report exists."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from services.reports.cases import service
from services.reports.cases.schemas import (
    AssignIn,
    CaseDetail,
    CaseSummary,
    EntryCreated,
    HoldIn,
    ReasonIn,
    RevealRequestOut,
    TextIn,
    TransitionIn,
)
from services.reports.concerns.controllers import reports_context
from services.reports.domain import State
from shared.http import require_roles
from shared.identity import Identity
from shared.service import Runtime


class CasesController(Controller):
    path = "/cases"
    tags = ["cases"]
    guards = [require_roles("safeguarding")]

    @get("/", summary="Open and past cases (no content)")
    async def list(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                   case_state: Annotated[State | None, QueryParameter(name="state")] = None) -> list[CaseSummary]:
        return await service.list_cases(runtime, reports_context(runtime), identity, case_state)

    @get("/{report_id:str}", summary="A case with its text, notes, messages and attachments")
    async def detail(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     report_id: FromPath[str]) -> CaseDetail:
        return await service.get_case(runtime, reports_context(runtime), identity, report_id)

    @post("/{report_id:str}/transitions", status_code=200, summary="Move the case along its workflow")
    async def move(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                   report_id: FromPath[str], data: JSONBody[TransitionIn]) -> CaseSummary:
        """received → acknowledged → investigating → resolved / closed; anything else is 409."""
        return await service.transition(runtime, reports_context(runtime), identity, report_id, data.to)

    @put("/{report_id:str}/assignee", summary="Assign the case (null unassigns)")
    async def assign(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     report_id: FromPath[str], data: JSONBody[AssignIn]) -> CaseSummary:
        return await service.assign(runtime, reports_context(runtime), identity, report_id, data.assignee_id)

    @post("/{report_id:str}/notes", status_code=201, summary="Add an internal note (never shown to the reporter)")
    async def note(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                   report_id: FromPath[str], data: JSONBody[TextIn]) -> EntryCreated:
        return await service.add_handler_entry(runtime, reports_context(runtime), identity, report_id, "note",
                                               data.text)

    @post("/{report_id:str}/messages", status_code=201, summary="Write to the reporter")
    async def message(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                      report_id: FromPath[str], data: JSONBody[TextIn]) -> EntryCreated:
        return await service.add_handler_entry(runtime, reports_context(runtime), identity, report_id, "message",
                                               data.text)

    @get("/{report_id:str}/attachments/{attachment_id:str}", summary="Download an attachment",
         response_description="The attachment's bytes", media_type="application/octet-stream")
    async def attachment(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                         report_id: FromPath[str], attachment_id: FromPath[str]) -> Response[bytes]:
        content, meta = await service.read_attachment(runtime, reports_context(runtime), identity, report_id,
                                                      attachment_id)
        return Response(content, media_type=meta.media_type, headers={
            "content-disposition": f"attachment; filename*=UTF-8''{quote(meta.filename, safe='')}",
            "x-content-type-options": "nosniff", "cache-control": "no-store"})

    @post("/{report_id:str}/reveal-requests", status_code=201,
          summary="Ask to reveal the reporter's identity (a second officer must approve)")
    async def request_reveal(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                             report_id: FromPath[str], data: JSONBody[ReasonIn]) -> RevealRequestOut:
        return await service.request_reveal(runtime, reports_context(runtime), identity, report_id, data.reason)

    @post("/{report_id:str}/reveal-requests/{request_id:str}/approve", status_code=200,
          summary="Approve a reveal request (not the officer who asked)")
    async def approve_reveal(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                             report_id: FromPath[str], request_id: FromPath[str],
                             data: JSONBody[ReasonIn]) -> RevealRequestOut:
        return await service.approve_reveal(runtime, reports_context(runtime), identity, report_id, request_id,
                                            data.reason)

    @put("/{report_id:str}/legal-hold", summary="Set or release a legal hold (suspends expiry)")
    async def hold(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                   report_id: FromPath[str], data: JSONBody[HoldIn]) -> CaseSummary:
        return await service.set_hold(runtime, reports_context(runtime), identity, report_id, data.hold, data.reason)
