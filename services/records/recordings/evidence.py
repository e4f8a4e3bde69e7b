"""The end of a recording's consent evidence.

The recorder sends the evidence up to the start with the upload (the `tandem-recording` header); how the
recording ended (who revoked, who left, when it stopped) arrives afterwards with `recording.stopped`, and
is added here to the stored evidence: each ledger line once (by `seq`), and the stop's reason and time.
"""

from __future__ import annotations

import json
from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.records.core.tables import records
from shared.events.types import RecordingStopped, reason_for_members


async def complete(conn: AsyncConnection, event: RecordingStopped, occurred_at: datetime) -> bool:
    """Add the end of `event`'s consent round to its record; False when there is no such recording."""
    if not event.record_id:
        return False
    row = (await conn.execute(sa.select(records.c.consent_evidence).where(
        records.c.id == event.record_id, records.c.kind == "recording",
        records.c.session_id == event.session_id))).first()
    if row is None or not row.consent_evidence:
        return False  # expired (tombstone) or not a recording of that session: nothing to complete
    evidence = json.loads(row.consent_evidence)
    if not isinstance(evidence, dict) or evidence.get("recording_id") != event.recording_id:
        return False
    found = evidence.get("consent")
    lines: list[dict[str, object]] = found if isinstance(found, list) else []
    seen = {line.get("seq") for line in lines if isinstance(line, dict)}
    for line in msgspec.to_builtins(event.ledger):
        if line["seq"] not in seen:
            lines.append({**line, "recording_id": event.recording_id})
    evidence["consent"] = lines
    evidence["stopped"] = {"reason": event.reason, "at": occurred_at.isoformat()}
    await conn.execute(sa.update(records).where(records.c.id == event.record_id)
                       .values(consent_evidence=json.dumps(evidence, sort_keys=True)))
    return True


def as_members_see(evidence: object) -> object:
    """The stored evidence with each reason as the pairing's members are shown it (`reason_for_members`)."""
    if not isinstance(evidence, dict):
        return evidence
    shown = dict(evidence)
    lines = shown.get("consent")
    if isinstance(lines, list):
        shown["consent"] = [{**line, "reason": reason_for_members(line.get("reason"))}
                            if isinstance(line, dict) and "reason" in line else line for line in lines]
    stopped = shown.get("stopped")
    if isinstance(stopped, dict):
        shown["stopped"] = {**stopped, "reason": reason_for_members(stopped.get("reason"))}
    return shown
