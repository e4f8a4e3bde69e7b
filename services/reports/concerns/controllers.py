"""Reporter-facing routes. The gateway serves them at /api/reports/...; the public form reaches
`POST /concerns` and `/receipt` with an assertion for the public subject (no roles)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.reports.concerns import service
from services.reports.concerns.schemas import ConcernIn, Filed, MessageIn, MessagePosted, OwnReport, OwnReportSummary
from services.reports.domain import ReportsContext
from shared.identity import Identity
from shared.service import Runtime

_CLIENT_HASH = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def reports_context(runtime: Runtime) -> ReportsContext:
    ctx = runtime.extras["reports"]
    assert isinstance(ctx, ReportsContext)  # noqa: S101 - set up in the lifespan
    return ctx


def client_hash(request: Request[Any, Any, Any], ctx: ReportsContext) -> str | None:
    """The gateway's keyed hash of the client IP; anything malformed is ignored (shared bucket)."""
    value = request.headers.get(ctx.settings.client_hash_header)
    return value if value and _CLIENT_HASH.match(value) else None


class ConcernsController(Controller):
    tags = ["concerns"]

    @post("/concerns", status_code=201, summary="File a concern (signed in, or the public form)")
    async def file(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                   identity: NamedDependency[Identity], data: JSONBody[ConcernIn]) -> Filed:
        """Anonymous filings answer with a receipt, shown only this once; identified ones with the id."""
        ctx = reports_context(runtime)
        return await service.file_concern(runtime, ctx, identity, data, client_hash(request, ctx))

    @get("/mine", summary="My identified reports")
    async def mine(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity]
                   ) -> list[OwnReportSummary]:
        return await service.own_reports(runtime, reports_context(runtime), identity)

    @get("/mine/{report_id:str}", summary="One of my identified reports, with messages")
    async def mine_one(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                       report_id: FromPath[str]) -> OwnReport:
        return await service.own_report(runtime, reports_context(runtime), identity, report_id)

    @post("/mine/{report_id:str}/messages", status_code=201, summary="Write to the safeguarding team")
    async def mine_message(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                           report_id: FromPath[str], data: JSONBody[MessageIn]) -> MessagePosted:
        return await service.post_own_message(runtime, reports_context(runtime), identity, report_id, data.text)

    @get("/receipt", summary="Follow up an anonymous report (receipt in the tandem-receipt header)")
    async def by_receipt(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> OwnReport:
        """Any failure (malformed, unknown or wrong receipt) is the same 404."""
        ctx = reports_context(runtime)
        return await service.receipt_report(runtime, ctx, request.headers.get(ctx.settings.receipt_header),
                                            client_hash(request, ctx))

    @post("/receipt/messages", status_code=201, summary="Write to the safeguarding team by receipt")
    async def by_receipt_message(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                                 data: JSONBody[MessageIn]) -> MessagePosted:
        ctx = reports_context(runtime)
        return await service.post_receipt_message(runtime, ctx, request.headers.get(ctx.settings.receipt_header),
                                                  client_hash(request, ctx), data.text)
