"""HTTP routes of recordings: internal ingest (service identity only) and member playback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Response, Stream

from services.records.core.deps import MEMBER_ROLES, records_of
from services.records.recordings import service
from services.records.recordings.ranges import Unsatisfiable, parse_range
from services.records.recordings.schemas import Recording, RecordingSummary
from services.records.retention.service import LegalHoldActive, erase_record
from shared.http import Conflict, problem_response, require_roles
from shared.identity import Identity
from shared.service import Runtime

PairingQuery = Annotated[str, QueryParameter(name="pairing_id", min_length=1, max_length=64)]


class IngestController(Controller):
    path = "/internal/recordings"
    tags = ["internal"]
    guards = [require_roles("service")]

    @post("/", status_code=201, request_max_body_size=None,
          summary="Ingest a recording (sessions recorder): streaming body, sealed on the fly")
    async def ingest(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                     identity: NamedDependency[Identity]) -> Recording:
        """Body: the WebM bytes (`Content-Type: video/webm`, any length, chunked is fine).
        Header `tandem-recording`: base64url(JSON {session_id, pairing_id, consent_evidence,
        started_at?, recording_id?}). Nothing is stored unless the whole body arrives."""
        rec = records_of(runtime)
        meta = service.parse_metadata(request.headers.get(service.METADATA_HEADER),
                                      rec.settings.max_consent_header_bytes)
        raw_len = request.headers.get("content-length")
        length = int(raw_len) if raw_len and raw_len.isdigit() else None
        return await service.ingest(rec, identity.sub, meta, request.stream(), length)


class RecordingsController(Controller):
    path = "/recordings"
    tags = ["recordings"]
    guards = [require_roles(*MEMBER_ROLES)]

    @get("/", summary="Recordings of one of your pairings")
    async def list_recordings(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                              pairing_id: PairingQuery) -> list[RecordingSummary]:
        return await service.list_recordings(records_of(runtime), identity.sub, pairing_id)

    @get("/{record_id:str}", summary="One recording's metadata and consent evidence")
    async def read(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                   record_id: FromPath[str]) -> Recording:
        return await service.get_recording(records_of(runtime), identity.sub, record_id)

    @get("/{record_id:str}/content", summary="Play a recording (video/webm, HTTP Range supported)",
         media_type="video/webm")
    async def content(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                      identity: NamedDependency[Identity], record_id: FromPath[str]) -> Response[Any]:
        """Only the segments covering the requested range are fetched and decrypted."""
        rec = records_of(runtime)
        ref = await service.playable(rec, identity.sub, record_id)
        size = ref.plaintext_size
        try:
            wanted = parse_range(request.headers.get("range"), size)
        except Unsatisfiable:
            return problem_response(416, "The requested range is outside the recording.", slug="range-not-satisfiable",
                                    headers={"content-range": f"bytes */{size}", "accept-ranges": "bytes"})
        headers = {"accept-ranges": "bytes", "cache-control": "private, no-store",
                   "x-content-type-options": "nosniff"}
        if wanted is None:
            if size == 0:
                return Response(b"", media_type="video/webm", headers={**headers, "content-length": "0"})
            start, end, status = 0, size - 1, 200
        else:
            start, end, status = wanted.start, wanted.end, 206
            headers["content-range"] = wanted.content_range(size)
        headers["content-length"] = str(end - start + 1)

        chunks = rec.vault.stream_range(ref, start, end, rec.settings.playback_window_bytes)
        # Decrypt the first window before answering, so a failure is a clean 500, not a truncated 2xx.
        first = await anext(chunks)

        async def body() -> AsyncIterator[bytes]:
            yield first
            async for chunk in chunks:
                yield chunk

        return Stream(body(), media_type="video/webm", status_code=status, headers=headers)

    @delete("/{record_id:str}", status_code=204, summary="Erase a recording of your pairing (right to erasure)")
    async def remove(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     record_id: FromPath[str]) -> None:
        rec = records_of(runtime)
        await service.playable(rec, identity.sub, record_id)
        try:
            await erase_record(rec, record_id, actor=identity.sub)
        except LegalHoldActive:
            raise Conflict("This recording is under legal hold and cannot be erased now.",
                           slug="legal-hold") from None
