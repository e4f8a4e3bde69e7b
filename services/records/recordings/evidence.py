"""The end of a recording's consent evidence.

The recorder sends the evidence up to the start with the upload (the `tandem-recording` header); how the
recording ended (who revoked, who left, when it stopped) arrives afterwards with `recording.stopped`, and
is added here to the stored evidence: each ledger line once (by `seq`), and the stop's reason and time.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from shared.events.types import RecordingStopped, reason_for_members


def completed(evidence: object, event: RecordingStopped, occurred_at: datetime) -> dict[str, object] | None:
    """`evidence` with the end of `event`'s consent round added; None when it is not that recording's."""
    if not isinstance(evidence, dict) or evidence.get("recording_id") != event.recording_id:
        return None
    found = evidence.get("consent")
    lines: list[dict[str, object]] = found if isinstance(found, list) else []
    seen = {line.get("seq") for line in lines if isinstance(line, dict)}
    for line in msgspec.to_builtins(event.ledger):
        if line["seq"] not in seen:
            lines.append({**line, "recording_id": event.recording_id})
    evidence["consent"] = lines
    evidence["stopped"] = {"reason": event.reason, "at": occurred_at.isoformat()}
    return evidence


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
