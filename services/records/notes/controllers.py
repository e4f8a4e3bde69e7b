"""HTTP routes of notes (pair members only: mentee or mentor role, and member of the pairing)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from services.records.core.deps import MEMBER_ROLES, records_of
from services.records.notes import service
from services.records.notes.schemas import Note, NoteCreate, NoteSummary, NoteUpdate, NoteVersion
from services.records.retention.service import LegalHoldActive
from shared.http import Conflict, require_roles
from shared.identity import Identity
from shared.service import Runtime

PairingQuery = Annotated[str, QueryParameter(name="pairing_id", min_length=1, max_length=64)]
VersionQuery = Annotated[int | None, QueryParameter(name="version", ge=1, required=False)]


class NotesController(Controller):
    path = "/notes"
    tags = ["notes"]
    guards = [require_roles(*MEMBER_ROLES)]

    @post("/", status_code=201, summary="Write a note about one of your pairings")
    async def create(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     data: JSONBody[NoteCreate]) -> Note:
        """422 `patient-identifiers` lists kinds and offsets of likely patient identifiers; resubmit
        with `confirm_identifiers: true` to save anyway."""
        return await service.create_note(records_of(runtime), identity.sub, data)

    @get("/", summary="Notes of a pairing visible to you (no text)")
    async def list_notes(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                         pairing_id: PairingQuery) -> list[NoteSummary]:
        return await service.list_notes(records_of(runtime), identity.sub, pairing_id)

    @get("/{note_id:str}", summary="Read a note (latest version, or ?version=N)")
    async def read(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                   note_id: FromPath[str], version: VersionQuery = None) -> Note:
        return await service.read_note(records_of(runtime), identity.sub, note_id, version)

    @get("/{note_id:str}/versions", summary="Versions of a note")
    async def versions(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                       note_id: FromPath[str]) -> list[NoteVersion]:
        return await service.note_versions(records_of(runtime), identity.sub, note_id)

    @put("/{note_id:str}", summary="Change a note (author only): a new sealed version")
    async def update(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     note_id: FromPath[str], data: JSONBody[NoteUpdate]) -> Note:
        return await service.update_note(records_of(runtime), identity.sub, note_id, data)

    @delete("/{note_id:str}", status_code=204, summary="Delete a note (author only): crypto-shredded at once")
    async def remove(self, runtime: NamedDependency[Runtime], identity: NamedDependency[Identity],
                     note_id: FromPath[str]) -> None:
        try:
            await service.delete_note(records_of(runtime), identity.sub, note_id)
        except LegalHoldActive:
            raise Conflict("This note is under legal hold and cannot be deleted now.", slug="legal-hold") from None
