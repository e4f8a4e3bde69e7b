"""Auditor view: search the ledger by actor, target, action and time; never by content. What a
reader gets back is decided by the audit catalogue (catalogue.py): admins the programme's entries,
safeguarding officers the reports' entries, operators every entry by pseudonym (and the entries
whose action is not catalogued, as problems); nobody else anything."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from services.records.audit.catalogue import CATALOGUE, audiences_of, searchable_actions, visible_actions
from services.records.audit.schemas import AuditPage
from services.records.audit.service import Ledger, SearchFilter, record_access_or_fail
from services.records.audit.views import as_utc, render
from shared.http import BadRequest, require_roles
from shared.identity import Identity

_ID = r"^[^\x00-\x1f]{1,320}$"


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get("/entries", guards=[require_roles("admin", "safeguarding", "operator")])
    async def search(
        self, ledger: NamedDependency[Ledger], identity: NamedDependency[Identity],
        actor: Annotated[str | None, QueryParameter(pattern=_ID,
                                               description="Exact actor id or e-mail")] = None,
        target: Annotated[str | None, QueryParameter(pattern=_ID, description="Exact target id")] = None,
        action: Annotated[str | None, QueryParameter(max_length=100)] = None,
        since: Annotated[datetime | None, QueryParameter(description="occurred_at >= since")] = None,
        until: Annotated[datetime | None, QueryParameter(description="occurred_at < until")] = None,
        before_seq: Annotated[int | None, QueryParameter(ge=1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        exclude_action: Annotated[list[str] | None, QueryParameter(
            max_items=20, description="Leave out entries with these actions (repeatable), e.g. audit.search: "
                                      "the ledger's own searches")] = None,
    ) -> AuditPage:
        """Ledger entries the caller's roles may read, newest first, each field as the audit
        catalogue declares for them (admin, safeguarding, operator; every other role 403). Searching
        by actor or target only finds entries where the caller reads that field in clear. Entries
        hidden from the caller (the trail of a report about them) are never returned nor counted. The
        search itself is recorded in the ledger before anything is returned."""
        since, until = _utc(since), _utc(until)
        if since is not None and until is not None and since >= until:
            raise BadRequest("`since` must be before `until`.")
        audiences = audiences_of(identity)
        allowed = set(visible_actions(audiences))
        if actor is not None:
            allowed &= set(searchable_actions(audiences, "actor"))
        if target is not None:
            allowed &= set(searchable_actions(audiences, "target"))
        excluded = sorted(set(exclude_action or ()))
        if any(len(a) > 100 for a in excluded):
            raise BadRequest("An excluded action is at most 100 characters.")
        # Operators also get the entries no catalogue entry covers, as problems; those have no
        # readable actor or target, so a search by either never finds them.
        uncatalogued = "operator" in audiences and actor is None and target is None and \
            (action is None or action not in CATALOGUE)
        await record_access_or_fail(ledger, actor=identity.sub, action="audit.search", target="audit:ledger")
        rows = await ledger.search(SearchFilter(actor=actor, target=target, action=action, since=since,
                                                until=until, before_seq=before_seq, limit=limit,
                                                actions=sorted(allowed), uncatalogued=uncatalogued,
                                                reader=identity.sub, exclude=excluded))
        entries = [e for e in (render(ledger.keys, r, audiences) for r in rows) if e is not None]
        return AuditPage(entries=entries,
                         next_before_seq=int(rows[-1].seq) if len(rows) == limit else None)
