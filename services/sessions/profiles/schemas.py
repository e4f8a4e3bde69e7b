"""Profile bodies. A mentor's biography, areas and languages are published to the programme's mentees;
a mentee's profile is seen by themselves and by admins who match."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
# A language tag (BCP 47, simplified): "en", "fr", "fr-CA", "cr" (Cree), "oj" (Ojibwe).
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")]
MAX_CAPACITY = 10


class ProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    bio: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    areas: Annotated[list[Label], msgspec.Meta(max_length=12)] = msgspec.field(default_factory=list)
    languages: Annotated[list[Language], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)
    # Mentors: how many mentees at once. Mentees leave it out.
    capacity: Annotated[int, msgspec.Meta(ge=1, le=MAX_CAPACITY)] | None = None


class ProfileOut(msgspec.Struct):
    user_id: str
    bio: str
    areas: list[str]
    languages: list[str]
    capacity: int | None
    updated_at: datetime | None


class MentorCard(msgspec.Struct):
    """What a mentee sees of a mentor who can be chosen: the biography and whether a place is free."""

    user_id: str
    bio: str
    areas: list[str]
    languages: list[str]
    has_room: bool
