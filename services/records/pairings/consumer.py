"""Consumer group "records": pairings, sessions, recordings' ends and erasure requests. Each event's effect commits
together with its inbox mark (`claim_event`), so redelivery changes nothing."""

from __future__ import annotations

from datetime import timedelta

from services.records.adapters.db import inbox
from services.records.core.context import Records
from services.records.pairings import service
from services.records.recordings import evidence
from services.records.retention.service import erase_for_user
from shared.bus import Handler
from shared.db import claim_event
from shared.events import Envelope
from shared.events.types import (
    PairingActivated,
    PairingEnded,
    RecordingStopped,
    SessionScheduled,
    UserErasureRequested,
)
from shared.logging import get_logger
from shared.service import Runtime

log = get_logger("tandem.records.consumer")
GROUP = "records"
STREAMS = ("tandem.pairing", "tandem.session", "tandem.user")


def handler(runtime: Runtime) -> Handler:
    async def handle(envelope: Envelope) -> None:
        rec: Records = runtime.extras["records"]
        await handle_envelope(rec, envelope)

    return handle


async def handle_envelope(rec: Records, envelope: Envelope) -> None:
    kind = envelope.type
    if kind not in {PairingActivated.TYPE, PairingEnded.TYPE, SessionScheduled.TYPE, UserErasureRequested.TYPE,
                    RecordingStopped.TYPE}:
        return
    if kind == UserErasureRequested.TYPE:
        ev = envelope.payload(UserErasureRequested)
        # Erasure spans many records, each shredded in its own resumable steps and idempotent: run it,
        # then mark the event (a redelivery after a crash finishes the job instead of skipping it).
        result = await erase_for_user(rec, ev.user_id, request_id=ev.request_id)
        async with rec.engine.begin() as conn:
            await claim_event(conn, inbox, GROUP, envelope.id)
        log.info("records.erasure_request_handled", request_id=ev.request_id, erased=result.erased,
                 held=result.held)
        return
    async with rec.engine.begin() as conn:
        if not await claim_event(conn, inbox, GROUP, envelope.id):
            return
        if kind == PairingActivated.TYPE:
            a = envelope.payload(PairingActivated)
            await service.pairing_activated(conn, a.pairing_id, a.mentor_id, a.mentee_id, envelope.occurred_at)
        elif kind == PairingEnded.TYPE:
            e = envelope.payload(PairingEnded)
            n = await service.pairing_ended(conn, e.pairing_id, e.mentor_id, e.mentee_id, e.ended_at,
                                            timedelta(days=rec.settings.note_retention_days))
            log.info("records.pairing_ended", pairing_id=e.pairing_id, notes_scheduled=n)
        elif kind == RecordingStopped.TYPE:
            stopped = envelope.payload(RecordingStopped)
            if await evidence.complete(conn, stopped, envelope.occurred_at):
                log.info("records.consent_evidence_completed", record_id=stopped.record_id, stop_reason=stopped.reason)
        else:
            s = envelope.payload(SessionScheduled)
            await service.session_scheduled(conn, s.session_id, s.pairing_id)
