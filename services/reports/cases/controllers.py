"""Safeguarding routes. Every other role gets 403 before anything is looked up, so the answer
never depends on whether a report exists."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from services.reports.cases.schemas import (
    AssignIn,
    CaseDetail,
    CaseSummary,
    EntryCreated,
    HoldIn,
    ReasonIn,
    RevealRequestOut,
    State,
    TextIn,
    TransitionIn,
)
from services.reports.cases.service import Cases
from shared.http import require_roles
from shared.identity import Identity


class CasesController(Controller):
    path = "/cases"
    tags = ["cases"]
    guards = [require_roles("safeguarding")]

    @get("/", summary="Open and past cases (no content)")
    async def list(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                   case_state: Annotated[State | None, QueryParameter(name="state")] = None) -> list[CaseSummary]:
        return await cases.list_cases(identity, case_state)

    @get("/{report_id:str}", summary="A case with its text, notes, messages and attachments")
    async def detail(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                     report_id: FromPath[str]) -> CaseDetail:
        return await cases.get(identity, report_id)

    @post("/{report_id:str}/transitions", status_code=200, summary="Move the case along its workflow")
    async def move(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                   report_id: FromPath[str], data: JSONBody[TransitionIn]) -> CaseSummary:
        """received → acknowledged → investigating → resolved / closed; anything else is 409."""
        return await cases.transition(identity, report_id, data.to)

    @put("/{report_id:str}/assignee", summary="Assign the case (null unassigns)")
    async def assign(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                     report_id: FromPath[str], data: JSONBody[AssignIn]) -> CaseSummary:
        return await cases.assign(identity, report_id, data.assignee_id)

    @post("/{report_id:str}/notes", status_code=201, summary="Add an internal note (never shown to the reporter)")
    async def note(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                   report_id: FromPath[str], data: JSONBody[TextIn]) -> EntryCreated:
        return await cases.add_entry(identity, report_id, "note", data.text)

    @post("/{report_id:str}/messages", status_code=201, summary="Write to the reporter")
    async def message(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                      report_id: FromPath[str], data: JSONBody[TextIn]) -> EntryCreated:
        return await cases.add_entry(identity, report_id, "message", data.text)

    @get("/{report_id:str}/attachments/{attachment_id:str}", summary="Download an attachment",
         response_description="The attachment's bytes", media_type="application/octet-stream")
    async def attachment(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                         report_id: FromPath[str], attachment_id: FromPath[str]) -> Response[bytes]:
        content, meta = await cases.read_attachment(identity, report_id, attachment_id)
        return Response(content, media_type=meta.media_type, headers={
            "content-disposition": f"attachment; filename*=UTF-8''{quote(meta.filename, safe='')}",
            "x-content-type-options": "nosniff", "cache-control": "no-store"})

    @post("/{report_id:str}/reveal-requests", status_code=201,
          summary="Ask to reveal the reporter's identity (a second officer must approve)")
    async def request_reveal(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                             report_id: FromPath[str], data: JSONBody[ReasonIn]) -> RevealRequestOut:
        return await cases.request_reveal(identity, report_id, data.reason)

    @post("/{report_id:str}/reveal-requests/{request_id:str}/approve", status_code=200,
          summary="Approve a reveal request (not the officer who asked)")
    async def approve_reveal(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                             report_id: FromPath[str], request_id: FromPath[str],
                             data: JSONBody[ReasonIn]) -> RevealRequestOut:
        return await cases.approve_reveal(identity, report_id, request_id, data.reason)

    @put("/{report_id:str}/legal-hold", summary="Set or release a legal hold (suspends expiry)")
    async def hold(self, cases: NamedDependency[Cases], identity: NamedDependency[Identity],
                   report_id: FromPath[str], data: JSONBody[HoldIn]) -> CaseSummary:
        return await cases.set_hold(identity, report_id, data.hold, data.reason)
