"""HTTP routes of disputes: explicit transitions, admin and member views, and dispute access to content."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response, Stream

from services.records.core.deps import MEMBER_ROLES, records_of
from services.records.disputes import schemas as s
from services.records.disputes import service
from services.records.recordings.ranges import Unsatisfiable, parse_range
from shared.http import problem_response, require_roles
from shared.identity import Identity
from shared.service import Runtime


def _ctx(runtime: Runtime) -> service.Ctx:
    return service.Ctx(runtime, records_of(runtime))


class DisputesController(Controller):
    path = "/disputes"
    tags = ["disputes"]

    @post("/", status_code=201, guards=[require_roles("admin", *MEMBER_ROLES)],
          summary="Open a dispute about a session (pair member or admin); places a legal hold at once")
    async def open(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                   data: JSONBody[s.DisputeOpen]) -> s.DisputeSummary:
        """The reason is confidential: it is stored sealed in the audit ledger only."""
        return await service.open_dispute(_ctx(runtime), identity, data)

    @get("/", guards=[require_roles("admin")], summary="List disputes (admins)")
    async def list_disputes(
        self, runtime: NamedDependency[Runtime],
        state_filter: Annotated[s.State | None, QueryParameter(name="state")] = None,
        unreviewed: Annotated[bool, QueryParameter(description="Only break-glass cases awaiting review")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[s.DisputeSummary]:
        return await service.list_disputes(_ctx(runtime), state_filter, unreviewed, limit)

    @get("/mine", guards=[require_roles(*MEMBER_ROLES)],
         summary="Disputes about your pairings: states, and which records were read when (no reasons)")
    async def mine(self, runtime: NamedDependency[Runtime],
                   identity: NamedDependency[Identity]) -> list[s.MemberDispute]:
        return await service.my_disputes(_ctx(runtime), identity.sub)

    @post("/break-glass", status_code=201, guards=[require_roles("admin")],
          summary="Safety emergency: open a dispute with immediate access for you alone (flagged, reviewed after)")
    async def break_glass_open(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                               data: JSONBody[s.BreakGlassOpen]) -> s.DisputeSummary:
        return await service.break_glass_open(_ctx(runtime), identity, data)

    @get("/{dispute_id:str}", guards=[require_roles("admin")],
         summary="One dispute with transitions (and their reasons), grants and accesses (admins; ledgered)")
    async def read(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                   dispute_id: FromPath[str]) -> s.Dispute:
        return await service.get_dispute(_ctx(runtime), identity, dispute_id)

    @post("/{dispute_id:str}/request-access", status_code=200, guards=[require_roles("admin")],
          summary="Ask for named admins to read named records of the session for a bounded window")
    async def request_access(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                             dispute_id: FromPath[str], data: JSONBody[s.AccessRequest]) -> s.DisputeSummary:
        return await service.request_access(_ctx(runtime), identity, dispute_id, data)

    @post("/{dispute_id:str}/approve", status_code=200, guards=[require_roles("admin")],
          summary="Approve the pending access request (four-eyes: another admin)")
    async def approve(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                      dispute_id: FromPath[str], data: JSONBody[s.Decision]) -> s.DisputeSummary:
        return await service.approve(_ctx(runtime), identity, dispute_id, data)

    @post("/{dispute_id:str}/reject", status_code=200, guards=[require_roles("admin")],
          summary="Reject the pending access request (four-eyes: another admin)")
    async def reject(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     dispute_id: FromPath[str], data: JSONBody[s.Decision]) -> s.DisputeSummary:
        return await service.reject(_ctx(runtime), identity, dispute_id, data)

    @post("/{dispute_id:str}/close", status_code=200, guards=[require_roles("admin")],
          summary="Close with an outcome: grants end, the hold lifts unless another open dispute needs it")
    async def close(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                    dispute_id: FromPath[str], data: JSONBody[s.CloseDispute]) -> s.DisputeSummary:
        return await service.close(_ctx(runtime), identity, dispute_id, data)

    @post("/{dispute_id:str}/break-glass", status_code=200, guards=[require_roles("admin")],
          summary="Safety emergency on an existing dispute: immediate access for you alone, reviewed after")
    async def break_glass(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                          dispute_id: FromPath[str], data: JSONBody[s.BreakGlass]) -> s.DisputeSummary:
        return await service.break_glass(_ctx(runtime), identity, dispute_id, data)

    @post("/{dispute_id:str}/review", status_code=200, guards=[require_roles("admin")],
          summary="Review a break-glass access (another admin); 'unjustified' ends its grants at once")
    async def review(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     dispute_id: FromPath[str], data: JSONBody[s.Review]) -> s.DisputeSummary:
        return await service.review(_ctx(runtime), identity, dispute_id, data)

    @get("/{dispute_id:str}/records", guards=[require_roles("admin")],
         summary="Records of the disputed session (metadata only) and until when you may read each")
    async def session_records(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                              dispute_id: FromPath[str]) -> list[s.SessionRecord]:
        return await service.session_records(_ctx(runtime), identity, dispute_id)

    @get("/{dispute_id:str}/records/{record_id:str}/content", guards=[require_roles("admin")],
         summary="Read a record under a dispute grant (HTTP Range); ledgered before any byte is decrypted",
         media_type="application/octet-stream")
    async def content(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                      identity: NamedDependency[Identity], dispute_id: FromPath[str],
                      record_id: FromPath[str]) -> Response[Any]:
        """403 outside the window, for records not granted, for admins not named; 503 (no bytes) when
        the ledger cannot be written."""
        ctx = _ctx(runtime)
        auth = await service.authorise_access(ctx, identity, dispute_id, record_id)
        size = auth.ref.plaintext_size
        try:
            wanted = parse_range(request.headers.get("range"), size)
        except Unsatisfiable:
            return problem_response(416, "The requested range is outside the record.", slug="range-not-satisfiable",
                                    headers={"content-range": f"bytes */{size}", "accept-ranges": "bytes"})
        headers = {"accept-ranges": "bytes", "cache-control": "private, no-store",
                   "x-content-type-options": "nosniff"}
        if wanted is None:
            start, end, status = 0, size - 1, 200
        else:
            start, end, status = wanted.start, wanted.end, 206
            headers["content-range"] = wanted.content_range(size)
        await service.log_access(ctx, identity, auth, start, end)  # raises (503) before any plaintext exists
        if size == 0:
            return Response(b"", media_type=auth.media_type, headers={**headers, "content-length": "0"})
        headers["content-length"] = str(end - start + 1)
        rec = ctx.rec
        chunks = rec.vault.stream_range(auth.ref, start, end, rec.settings.playback_window_bytes)
        first = await anext(chunks)  # a decryption failure is a clean 500, not a truncated 2xx

        async def body() -> AsyncIterator[bytes]:
            yield first
            async for chunk in chunks:
                yield chunk

        return Stream(body(), media_type=auth.media_type, status_code=status, headers=headers)
