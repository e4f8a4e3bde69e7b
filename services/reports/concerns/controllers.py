"""Reporter-facing routes. The gateway serves them at /api/reports/...; the public form reaches
`POST /concerns` and `/receipt` with an assertion for the public subject (no roles)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.reports.concerns.schemas import ConcernIn, Filed, MessageIn, MessagePosted, OwnReport, OwnReportSummary
from services.reports.concerns.service import Concerns
from shared.identity import Identity

_CLIENT_HASH = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def client_hash(request: Request[Any, Any, Any], concerns: Concerns) -> str | None:
    """The gateway's keyed hash of the client IP; anything malformed is ignored (shared bucket)."""
    value = request.headers.get(concerns.settings.client_hash_header)
    return value if value and _CLIENT_HASH.match(value) else None


def receipt(request: Request[Any, Any, Any], concerns: Concerns) -> str | None:
    return request.headers.get(concerns.settings.receipt_header)


class ConcernsController(Controller):
    tags = ["concerns"]

    @post("/concerns", status_code=201, summary="File a concern (signed in, or the public form)")
    async def file(self, request: Request[Any, Any, Any], concerns: NamedDependency[Concerns],
                   identity: NamedDependency[Identity], data: JSONBody[ConcernIn]) -> Filed:
        """Anonymous filings answer with a receipt, shown only this once; identified ones with the id."""
        return await concerns.file(identity, data, client_hash(request, concerns))

    @get("/mine", summary="My identified reports")
    async def mine(self, concerns: NamedDependency[Concerns], identity: NamedDependency[Identity]
                   ) -> list[OwnReportSummary]:
        return await concerns.own_reports(identity)

    @get("/mine/{report_id:str}", summary="One of my identified reports, with messages")
    async def mine_one(self, concerns: NamedDependency[Concerns], identity: NamedDependency[Identity],
                       report_id: FromPath[str]) -> OwnReport:
        return await concerns.own_report(identity, report_id)

    @post("/mine/{report_id:str}/messages", status_code=201, summary="Write to the safeguarding team")
    async def mine_message(self, concerns: NamedDependency[Concerns], identity: NamedDependency[Identity],
                           report_id: FromPath[str], data: JSONBody[MessageIn]) -> MessagePosted:
        return await concerns.post_own_message(identity, report_id, data.text)

    @get("/receipt", summary="Follow up an anonymous report (receipt in the tandem-receipt header)")
    async def by_receipt(self, request: Request[Any, Any, Any], concerns: NamedDependency[Concerns]) -> OwnReport:
        """Any failure (malformed, unknown or wrong receipt) is the same 404."""
        return await concerns.receipt_report(receipt(request, concerns), client_hash(request, concerns))

    @post("/receipt/messages", status_code=201, summary="Write to the safeguarding team by receipt")
    async def by_receipt_message(self, request: Request[Any, Any, Any], concerns: NamedDependency[Concerns],
                                 data: JSONBody[MessageIn]) -> MessagePosted:
        return await concerns.post_receipt_message(receipt(request, concerns), client_hash(request, concerns),
                                                   data.text)
