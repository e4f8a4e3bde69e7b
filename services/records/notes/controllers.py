"""HTTP routes of notes (pair members only: mentee or mentor role, and member of the pairing)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from services.records.notes.schemas import Note, NoteCreate, NoteSummary, NoteUpdate, NoteVersion
from services.records.notes.service import Notes
from shared.http import require_roles
from shared.identity import Identity

PairingQuery = Annotated[str, QueryParameter(name="pairing_id", min_length=1, max_length=64)]
VersionQuery = Annotated[int | None, QueryParameter(name="version", ge=1, required=False)]


class NotesController(Controller):
    path = "/notes"
    tags = ["notes"]
    guards = [require_roles("mentee", "mentor")]

    @post("/", status_code=201, summary="Write a note about one of your pairings")
    async def create(self, notes: NamedDependency[Notes], identity: NamedDependency[Identity],
                     data: JSONBody[NoteCreate]) -> Note:
        """422 `patient-identifiers` lists kinds and offsets of likely patient identifiers; resubmit
        with `confirm_identifiers: true` to save anyway."""
        return await notes.create(identity.sub, data)

    @get("/", summary="Notes of a pairing visible to you (no text)")
    async def list_notes(self, notes: NamedDependency[Notes], identity: NamedDependency[Identity],
                         pairing_id: PairingQuery) -> list[NoteSummary]:
        return await notes.of_pairing(identity.sub, pairing_id)

    @get("/{note_id:str}", summary="Read a note (latest version, or ?version=N)")
    async def read(self, notes: NamedDependency[Notes], identity: NamedDependency[Identity],
                   note_id: FromPath[str], version: VersionQuery = None) -> Note:
        return await notes.read(identity.sub, note_id, version)

    @get("/{note_id:str}/versions", summary="Versions of a note")
    async def versions(self, notes: NamedDependency[Notes], identity: NamedDependency[Identity],
                       note_id: FromPath[str]) -> list[NoteVersion]:
        return await notes.versions(identity.sub, note_id)

    @put("/{note_id:str}", summary="Change a note (author only): a new sealed version")
    async def update(self, notes: NamedDependency[Notes], identity: NamedDependency[Identity],
                     note_id: FromPath[str], data: JSONBody[NoteUpdate]) -> Note:
        return await notes.update(identity.sub, note_id, data)

    @delete("/{note_id:str}", status_code=204, summary="Delete a note (author only): crypto-shredded at once")
    async def remove(self, notes: NamedDependency[Notes], identity: NamedDependency[Identity],
                     note_id: FromPath[str]) -> None:
        await notes.delete(identity.sub, note_id)
