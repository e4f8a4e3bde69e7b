"""Bus event schemas: the envelope every stream entry carries, and the typed payloads."""

from shared.events.catalogue import STREAMS, StreamSpec, event_class, stream_for
from shared.events.envelope import Envelope, Event, decode_envelope, encode_envelope, new_envelope

__all__ = [
    "STREAMS",
    "Envelope",
    "Event",
    "StreamSpec",
    "decode_envelope",
    "encode_envelope",
    "event_class",
    "new_envelope",
    "stream_for",
]
