"""Pairing/session projection: idempotent on redelivery, an end is final; and the OpenAPI schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.records.pairings.service import get_pairing, session_pairing
from shared.events import new_envelope
from shared.events.types import PairingActivated, PairingEnded, SessionScheduled
from tests.support.records import Harness

pytestmark = pytest.mark.integration


async def test_projection_is_idempotent_and_an_end_is_final(db_harness: Harness) -> None:
    h = db_harness
    first_end = datetime(2026, 1, 1, tzinfo=UTC)
    activated = new_envelope(PairingActivated(pairing_id="p1", mentor_id="m", mentee_id="e"), source="sessions")
    ended = new_envelope(PairingEnded(pairing_id="p1", mentor_id="m", mentee_id="e", ended_at=first_end),
                         source="sessions")
    for env in (activated, activated, ended, ended):
        await h.rec.events.handle(env)
    # A later duplicate end (another event id) keeps the first end; a late activation does not reopen.
    await h.rec.events.handle(new_envelope(
        PairingEnded(pairing_id="p1", mentor_id="m", mentee_id="e", ended_at=first_end + timedelta(days=9)),
        source="sessions"))
    await h.rec.events.handle(new_envelope(PairingActivated(pairing_id="p1", mentor_id="m", mentee_id="e"),
                                              source="sessions"))
    scheduled = new_envelope(SessionScheduled(session_id="s1", pairing_id="p1", starts_at=first_end,
                                              ends_at=first_end), source="sessions")
    await h.rec.events.handle(scheduled)
    await h.rec.events.handle(scheduled)
    async with h.engine.connect() as conn:
        pairing = await get_pairing(conn, "p1")
        assert await session_pairing(conn, "s1") == "p1"
    assert pairing is not None and pairing.state == "ended" and pairing.members == ("m", "e")
    assert pairing.ended_at is not None and pairing.ended_at.replace(tzinfo=UTC) == first_end


@pytest.mark.sqlite_pass_only(reason="OpenAPI schema only: the same on every backend")
async def test_openapi_lists_every_records_route(harness: Harness) -> None:
    schema = (await harness.client.get("/schema/openapi.json")).json()
    for path, method in [("/notes", "post"), ("/notes", "get"), ("/notes/{note_id}", "get"),
                         ("/notes/{note_id}", "put"), ("/notes/{note_id}", "delete"),
                         ("/notes/{note_id}/versions", "get"), ("/recordings", "get"),
                         ("/recordings/{record_id}", "get"), ("/recordings/{record_id}", "delete"),
                         ("/recordings/{record_id}/content", "get"), ("/internal/recordings", "post"),
                         ("/retention/receipt-jwks", "get")]:
        assert method in schema["paths"][path], (path, method)
    note = schema["components"]["schemas"]["Note"]["properties"]
    assert {"id", "pairing_id", "visibility", "version", "text"} <= set(note)
