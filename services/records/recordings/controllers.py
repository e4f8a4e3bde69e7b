"""HTTP routes of recordings: internal ingest (service identity only) and member playback."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Response

from services.records.recordings.schemas import Recording, RecordingSummary
from services.records.recordings.service import METADATA_HEADER, Recordings
from shared.http import require_roles
from shared.identity import Identity

PairingQuery = Annotated[str, QueryParameter(name="pairing_id", min_length=1, max_length=64)]


class IngestController(Controller):
    path = "/internal/recordings"
    tags = ["internal"]
    guards = [require_roles("service")]

    @post("/", status_code=201, request_max_body_size=None,
          summary="Ingest a recording (sessions recorder): streaming body, sealed on the fly")
    async def ingest(self, request: Request[Any, Any, Any], recordings: NamedDependency[Recordings],
                     identity: NamedDependency[Identity]) -> Response[Recording]:
        """Body: the WebM bytes (`Content-Type: video/webm`, any length, chunked is fine).
        Header `tandem-recording`: base64url(JSON {session_id, pairing_id, consent_evidence,
        started_at?, recording_id?}). Nothing is stored unless the whole body arrives. The recording's
        length and seek index are added after the answer (its `duration_s` is null until then)."""
        meta = recordings.metadata(request.headers.get(METADATA_HEADER))
        raw_len = request.headers.get("content-length")
        length = int(raw_len) if raw_len and raw_len.isdigit() else None
        recording, indexing = await recordings.ingest(identity.sub, meta, request.stream(), length)
        return Response(recording, status_code=201,
                        background=BackgroundTask(indexing.run) if indexing is not None else None)


class RecordingsController(Controller):
    path = "/recordings"
    tags = ["recordings"]
    guards = [require_roles("mentee", "mentor")]

    @get("/", summary="Recordings of one of your pairings")
    async def list_recordings(self, recordings: NamedDependency[Recordings], identity: NamedDependency[Identity],
                              pairing_id: PairingQuery) -> list[RecordingSummary]:
        return await recordings.of_pairing(identity.sub, pairing_id)

    @get("/{record_id:str}", summary="One recording's metadata and consent evidence")
    async def read(self, recordings: NamedDependency[Recordings], identity: NamedDependency[Identity],
                   record_id: FromPath[str]) -> Recording:
        return await recordings.get(identity.sub, record_id)

    @get("/{record_id:str}/content", summary="Play a recording (video/webm, HTTP Range supported)",
         media_type="video/webm")
    async def content(self, request: Request[Any, Any, Any], recordings: NamedDependency[Recordings],
                      identity: NamedDependency[Identity], record_id: FromPath[str]) -> Response[Any]:
        """Only the segments covering the requested range are fetched and decrypted."""
        return await recordings.content(identity.sub, record_id, request.headers.get("range"))

    @delete("/{record_id:str}", status_code=204, summary="Erase a recording of your pairing (right to erasure)")
    async def remove(self, recordings: NamedDependency[Recordings], identity: NamedDependency[Identity],
                     record_id: FromPath[str]) -> None:
        await recordings.erase(identity.sub, record_id)
