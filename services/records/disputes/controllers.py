"""HTTP routes of disputes: explicit transitions, admin and member views, and dispute access to content."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response

from services.records.disputes import schemas as s
from services.records.disputes.access import DisputeAccess
from services.records.disputes.views import DisputeViews
from services.records.disputes.workflow import DisputeWorkflow
from shared.http import require_roles
from shared.identity import Identity

Workflow = NamedDependency[DisputeWorkflow]
Views = NamedDependency[DisputeViews]
Me = NamedDependency[Identity]
Id = FromPath[str]
ADMINS = [require_roles("admin")]


class DisputesController(Controller):
    path = "/disputes"
    tags = ["disputes"]

    @post("/", status_code=201, guards=[require_roles("admin", "mentee", "mentor")],
          summary="Open a dispute about a session (pair member or admin); places a legal hold at once")
    async def open(self, disputes: Workflow, identity: Me, data: JSONBody[s.DisputeOpen]) -> s.DisputeSummary:
        """The reason is confidential: it is stored sealed in the audit ledger only."""
        return await disputes.open_dispute(identity, data)

    @get("/", guards=ADMINS, summary="List disputes (admins)")
    async def list_disputes(
        self, dispute_views: Views,
        state_filter: Annotated[s.State | None, QueryParameter(name="state")] = None,
        unreviewed: Annotated[bool, QueryParameter(description="Only break-glass cases awaiting review")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[s.DisputeSummary]:
        return await dispute_views.list_disputes(state_filter, unreviewed, limit)

    @get("/mine", guards=[require_roles("mentee", "mentor")],
         summary="Disputes about your pairings: states, and which records were read when (no reasons)")
    async def mine(self, dispute_views: Views, identity: Me) -> list[s.MemberDispute]:
        return await dispute_views.my_disputes(identity.sub)

    @post("/break-glass", status_code=201, guards=ADMINS,
          summary="Safety emergency: open a dispute with immediate access for you alone (flagged, reviewed after)")
    async def break_glass_open(self, disputes: Workflow, identity: Me,
                               data: JSONBody[s.BreakGlassOpen]) -> s.DisputeSummary:
        return await disputes.break_glass_open(identity, data)

    @get("/{dispute_id:str}", guards=ADMINS,
         summary="One dispute with transitions (and their reasons), grants and accesses (admins; ledgered)")
    async def read(self, dispute_views: Views, identity: Me, dispute_id: Id) -> s.Dispute:
        return await dispute_views.get_dispute(identity, dispute_id)

    @post("/{dispute_id:str}/request-access", status_code=200, guards=ADMINS,
          summary="Ask for named admins to read named records of the session for a bounded window")
    async def request_access(self, disputes: Workflow, identity: Me, dispute_id: Id,
                             data: JSONBody[s.AccessRequest]) -> s.DisputeSummary:
        return await disputes.request_access(identity, dispute_id, data)

    @post("/{dispute_id:str}/approve", status_code=200, guards=ADMINS,
          summary="Approve the pending access request (four-eyes: another admin)")
    async def approve(self, disputes: Workflow, identity: Me, dispute_id: Id,
                      data: JSONBody[s.Decision]) -> s.DisputeSummary:
        return await disputes.approve(identity, dispute_id, data)

    @post("/{dispute_id:str}/reject", status_code=200, guards=ADMINS,
          summary="Reject the pending access request (four-eyes: another admin)")
    async def reject(self, disputes: Workflow, identity: Me, dispute_id: Id,
                     data: JSONBody[s.Decision]) -> s.DisputeSummary:
        return await disputes.reject(identity, dispute_id, data)

    @post("/{dispute_id:str}/close", status_code=200, guards=ADMINS,
          summary="Close with an outcome: grants end, the hold lifts unless another open dispute needs it")
    async def close(self, disputes: Workflow, identity: Me, dispute_id: Id,
                    data: JSONBody[s.CloseDispute]) -> s.DisputeSummary:
        return await disputes.close(identity, dispute_id, data)

    @post("/{dispute_id:str}/break-glass", status_code=200, guards=ADMINS,
          summary="Safety emergency on an existing dispute: immediate access for you alone, reviewed after")
    async def break_glass(self, disputes: Workflow, identity: Me, dispute_id: Id,
                          data: JSONBody[s.BreakGlass]) -> s.DisputeSummary:
        return await disputes.break_glass(identity, dispute_id, data)

    @post("/{dispute_id:str}/review", status_code=200, guards=ADMINS,
          summary="Review a break-glass access (another admin); 'unjustified' ends its grants at once")
    async def review(self, disputes: Workflow, identity: Me, dispute_id: Id,
                     data: JSONBody[s.Review]) -> s.DisputeSummary:
        return await disputes.review(identity, dispute_id, data)

    @get("/{dispute_id:str}/records", guards=ADMINS,
         summary="Records of the disputed session (metadata only) and until when you may read each")
    async def session_records(self, dispute_views: Views, identity: Me, dispute_id: Id) -> list[s.SessionRecord]:
        return await dispute_views.session_records(identity, dispute_id)

    @get("/{dispute_id:str}/records/{record_id:str}/content", guards=ADMINS,
         summary="Read a record under a dispute grant (HTTP Range); ledgered before any byte is decrypted",
         media_type="application/octet-stream")
    async def content(self, request: Request[Any, Any, Any], dispute_access: NamedDependency[DisputeAccess],
                      identity: Me, dispute_id: Id, record_id: Id) -> Response[Any]:
        """403 outside the window, for records not granted, for admins not named; 503 (no bytes) when
        the ledger cannot be written."""
        return await dispute_access.content(identity, dispute_id, record_id, request.headers.get("range"))
