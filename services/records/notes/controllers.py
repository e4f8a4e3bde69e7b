"""HTTP routes of notes (pair members only: mentee or mentor role, and member of the pairing)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from services.records.notes.schemas import Note, NoteCreate, NoteSummary, NoteUpdate, NoteVersion
from services.records.notes.service import Notes
from shared.http import require_roles
from shared.identity import Identity

PairingQuery = Annotated[str, QueryParameter(name="pairing_id", min_length=1, max_length=64)]
VersionQuery = Annotated[int | None, QueryParameter(name="version", ge=1, required=False)]
# The notes service acting for the request's caller: handlers pass no identity on.
Yours = NamedDependency[Notes]


def _acting_for_caller(notes: NamedDependency[Notes], identity: NamedDependency[Identity]) -> Notes:
    return notes.acting_for(identity)


class NotesController(Controller):
    path = "/notes"
    tags = ["notes"]
    guards = [require_roles("mentee", "mentor")]
    dependencies = {"yours": Provide(_acting_for_caller, sync_to_thread=False)}

    @post("/", status_code=201, summary="Write a note about one of your pairings")
    async def create(self, yours: Yours, data: JSONBody[NoteCreate]) -> Note:
        """422 `patient-identifiers` lists kinds and offsets of likely patient identifiers; resubmit
        with `confirm_identifiers: true` to save anyway."""
        return await yours.create(data)

    @get("/", summary="Notes of a pairing visible to you (no text)")
    async def list_notes(self, yours: Yours, pairing_id: PairingQuery) -> list[NoteSummary]:
        return await yours.of_pairing(pairing_id)

    @get("/{note_id:str}", summary="Read a note (latest version, or ?version=N)")
    async def read(self, yours: Yours, note_id: FromPath[str], version: VersionQuery = None) -> Note:
        return await yours.read(note_id, version)

    @get("/{note_id:str}/versions", summary="Versions of a note")
    async def versions(self, yours: Yours, note_id: FromPath[str]) -> list[NoteVersion]:
        return await yours.versions(note_id)

    @put("/{note_id:str}", summary="Change a note (author only): a new sealed version")
    async def update(self, yours: Yours, note_id: FromPath[str], data: JSONBody[NoteUpdate]) -> Note:
        return await yours.update(note_id, data)

    @delete("/{note_id:str}", status_code=204, summary="Delete a note (author only): crypto-shredded at once")
    async def remove(self, yours: Yours, note_id: FromPath[str]) -> None:
        await yours.delete(note_id)
