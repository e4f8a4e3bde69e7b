"""The event envelope (id, type, version, occurred_at, source, subject, data).

Payload classes subclass `Event` and set `TYPE` and `VERSION`; `new_envelope(payload, ...)` wraps
one, `Envelope.payload()` decodes `data` back into the registered class. Events carry ids and
facts, never note text, report text, names or e-mail addresses.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import msgspec

E = TypeVar("E", bound="Event")

_REGISTRY: dict[tuple[str, int], type[Event]] = {}


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every typed payload."""

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.TYPE:
            key = (cls.TYPE, cls.VERSION)
            if key in _REGISTRY and _REGISTRY[key].__qualname__ != cls.__qualname__:
                raise TypeError(f"event {key} registered twice")
            _REGISTRY[key] = cls


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    type: str
    version: int
    occurred_at: datetime
    source: str
    subject: str
    data: msgspec.Raw = msgspec.Raw(b"{}")

    def payload(self, cls: builtins.type[E] | None = None) -> E:
        """Decode `data` into `cls`, or into the class registered for (type, version)."""
        target = cls or _REGISTRY.get((self.type, self.version))
        if target is None:
            raise LookupError(f"no event class registered for {self.type} v{self.version}")
        return msgspec.json.decode(self.data, type=target)  # type: ignore[return-value]


def new_envelope(payload: Event, *, source: str, subject: str = "", now: datetime | None = None,
                 event_id: str | None = None) -> Envelope:
    cls = type(payload)
    if not cls.TYPE:
        raise TypeError(f"{cls.__name__} has no TYPE")
    return Envelope(
        id=event_id or uuid.uuid4().hex,
        type=cls.TYPE,
        version=cls.VERSION,
        occurred_at=now or datetime.now(UTC),
        source=source,
        subject=subject,
        data=msgspec.Raw(msgspec.json.encode(payload)),
    )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode_envelope(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode_envelope(raw: bytes) -> Envelope:
    return _decoder.decode(raw)


def registered() -> dict[tuple[str, int], type[Event]]:
    return dict(_REGISTRY)
