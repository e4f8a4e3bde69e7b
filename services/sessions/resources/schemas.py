"""Resource bodies. Resources are for every member of the programme: no confidential content here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Kind = Literal["guide", "template", "policy"]
Language = Literal["en", "fr"]
Url = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^https://[^\s<>\"']+$")]


class ResourceIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    language: Language = "en"
    summary: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    body: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    url: Url | None = None  # a document kept elsewhere (https only)
    position: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0


class ResourceOut(msgspec.Struct):
    resource_id: str
    kind: str
    language: str
    title: str
    summary: str
    body: str
    url: str | None
    position: int
    updated_at: datetime
