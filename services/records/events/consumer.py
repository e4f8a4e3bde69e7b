"""Consumer group "records": pairings, sessions, recordings' ends and erasure requests. Each event's effect commits
together with its inbox mark (`claim_event`), so redelivery changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.adapters.db import inbox
from services.records.lifecycle.service import Lifecycle
from services.records.pairings import service as pairings
from services.records.recordings.service import Recordings
from services.records.retention.policy import Policy
from services.records.retention.service import Retention
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

log = get_logger("tandem.records.consumer")
GROUP = "records"
STREAMS = ("tandem.pairing", "tandem.session", "tandem.user")
KINDS = {PairingActivated.TYPE, PairingEnded.TYPE, SessionScheduled.TYPE, UserErasureRequested.TYPE,
         RecordingStopped.TYPE}


@dataclass(frozen=True, kw_only=True)
class RecordsEvents:
    engine: AsyncEngine
    lifecycle: Lifecycle
    policy: Policy
    retention: Retention
    recordings: Recordings

    async def handle(self, envelope: Envelope) -> None:
        kind = envelope.type
        if kind not in KINDS:
            return
        if kind == UserErasureRequested.TYPE:
            ev = envelope.payload(UserErasureRequested)
            # Erasure spans many records, each shredded in its own resumable steps and idempotent: run it,
            # then mark the event (a redelivery after a crash finishes the job instead of skipping it).
            result = await self.retention.erase_for_user(ev.user_id, request_id=ev.request_id)
            async with self.engine.begin() as conn:
                await claim_event(conn, inbox, GROUP, envelope.id)
            log.info("records.erasure_request_handled", request_id=ev.request_id, erased=result.erased,
                     held=result.held)
            return
        async with self.engine.begin() as conn:
            if not await claim_event(conn, inbox, GROUP, envelope.id):
                return
            if kind == PairingActivated.TYPE:
                a = envelope.payload(PairingActivated)
                await pairings.pairing_activated(conn, a.pairing_id, a.mentor_id, a.mentee_id, envelope.occurred_at)
            elif kind == PairingEnded.TYPE:
                e = envelope.payload(PairingEnded)
                ended_at = await pairings.pairing_ended(conn, e.pairing_id, e.mentor_id, e.mentee_id, e.ended_at)
                # The notes' retention clock starts when their pairing ends.
                n = await self.lifecycle.schedule_note_expiry(conn, e.pairing_id,
                                                              self.policy.note_retain_until(ended_at))
                log.info("records.pairing_ended", pairing_id=e.pairing_id, notes_scheduled=n)
            elif kind == RecordingStopped.TYPE:
                stopped = envelope.payload(RecordingStopped)
                if await self.recordings.complete_evidence(conn, stopped, envelope.occurred_at):
                    log.info("records.consent_evidence_completed", record_id=stopped.record_id,
                             stop_reason=stopped.reason)
            else:
                s = envelope.payload(SessionScheduled)
                await pairings.session_scheduled(conn, s.session_id, s.pairing_id)
