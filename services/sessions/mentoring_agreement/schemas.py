"""Mentoring agreement bodies. An agreement's texts are confidential: returned to the pairing's two members
only, never logged, never in an event or an audit entry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_SECTIONS = 20
MAX_TEXT = 5000
MAX_GUIDANCE = 2000
MAX_VERSION = 2_147_483_647  # the Integer columns' range: a larger number is input error, not a 500

Key = Annotated[str, msgspec.Meta(pattern=KEY_PATTERN)]
Version = Annotated[int, msgspec.Meta(ge=1, le=MAX_VERSION)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]


class TemplateSection(msgspec.Struct, forbid_unknown_fields=True):
    key: Key
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    guidance: Annotated[str, msgspec.Meta(max_length=MAX_GUIDANCE)] = ""


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True):
    """The programme's new template: its sections in order, keys unique."""

    sections: Annotated[list[TemplateSection], msgspec.Meta(min_length=1, max_length=MAX_SECTIONS)]


class TemplateOut(msgspec.Struct):
    version: int  # 0: the built-in default (no template published yet)
    sections: list[TemplateSection]
    published_by: str | None
    published_at: datetime | None


class AgreementIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new version: the text of each section (keys of the programme's current template; a section left
    out is empty). `base_version` is the latest version the writer saw (null for the first)."""

    sections: Annotated[dict[Key, Text], msgspec.Meta(max_length=MAX_SECTIONS)]
    base_version: Version | None


class AcceptIn(msgspec.Struct, forbid_unknown_fields=True):
    version: Version  # must be the latest version


class AgreementSection(msgspec.Struct):
    key: str
    title: str
    guidance: str
    text: str


class AgreementOut(msgspec.Struct):
    """The pairing's latest version (a draft, or in force once both accepted it). Before the first version:
    `version` null and the current template's sections, empty."""

    pairing_id: str
    version: int | None
    template_version: int  # the template this version was written under
    current_template_version: int  # the programme's template now (a new version is written under it)
    sections: list[AgreementSection]
    edited_by: str | None
    edited_at: datetime | None
    mentor_accepted: bool
    mentee_accepted: bool
    in_force_version: int | None  # the latest version both accepted; it stays in force while a newer waits


class VersionOut(msgspec.Struct):
    version: int
    template_version: int
    edited_by: str
    created_at: datetime
    accepted_by: list[str]  # user ids of the members who accepted this version
    in_force: bool  # the version in force now
    sections: dict[str, str]
