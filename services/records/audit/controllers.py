"""Auditor view: admins search the ledger by actor, target, action and time; never by content."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from services.records.audit.schemas import AuditEntryOut, AuditPage
from services.records.audit.service import Ledger, SearchFilter, ledger_of, record_access_or_fail
from shared.crypto.errors import DecryptionError
from shared.http import BadRequest, require_roles
from shared.identity import Identity
from shared.service import Runtime

_ID = r"^[^\x00-\x1f]{1,320}$"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _out(ledger: Ledger, row: Any) -> AuditEntryOut:
    reason, unreadable = None, False
    if row.reason_sealed is not None:
        try:
            reason = ledger.keys.open_reason(row.event_id, row.reason_sealed)
        except DecryptionError:
            unreadable = True
    return AuditEntryOut(
        seq=int(row.seq), event_id=row.event_id, occurred_at=_aware(row.occurred_at),  # type: ignore[arg-type]
        recorded_at=_aware(row.recorded_at), source=row.source,  # type: ignore[arg-type]
        actor=row.actor, actor_protected=row.actor is None, action=row.action,
        target=row.target, target_protected=row.target is None, outcome=row.outcome,
        reason=reason, reason_unreadable=unreadable, hash=row.hash)


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get("/entries", guards=[require_roles("admin")])
    async def search(
        self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
        actor: Annotated[str | None, QueryParameter(pattern=_ID,
                                               description="Exact actor id or e-mail")] = None,
        target: Annotated[str | None, QueryParameter(pattern=_ID, description="Exact target id")] = None,
        action: Annotated[str | None, QueryParameter(max_length=100)] = None,
        since: Annotated[datetime | None, QueryParameter(description="occurred_at >= since")] = None,
        until: Annotated[datetime | None, QueryParameter(description="occurred_at < until")] = None,
        before_seq: Annotated[int | None, QueryParameter(ge=1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> AuditPage:
        """Ledger entries, newest first (admins only). Reasons are shown decrypted; the search
        itself is recorded in the ledger before anything is returned."""
        since, until = _aware(since), _aware(until)
        if since is not None and until is not None and since >= until:
            raise BadRequest("`since` must be before `until`.")
        ledger = ledger_of(runtime)
        await record_access_or_fail(runtime, actor=identity.sub, action="audit.search", target="audit:ledger")
        rows = await ledger.search(SearchFilter(actor=actor, target=target, action=action, since=since,
                                                until=until, before_seq=before_seq, limit=limit))
        entries = [_out(ledger, r) for r in rows]
        return AuditPage(entries=entries,
                         next_before_seq=entries[-1].seq if len(entries) == limit else None)
