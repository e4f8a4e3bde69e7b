"""Signalling frames (JSON text frames, tagged by `type`): what clients send and what the server pushes.

Parsing is pure: `decode_client(raw)` returns a typed message or raises `BadFrame` with a reason code
that the server sends back in an `error` frame.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Sdp = Annotated[str, msgspec.Meta(min_length=1, max_length=32_768)]
Target = Literal["peer", "recorder"]
Source = Literal["peer", "recorder"]


class _Frame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=False):
    pass


# -- client → server ------------------------------------------------------------------------------------


class Join(_Frame, tag="join"):
    pass


class _Description(_Frame):
    """A session description (SDP) for the peer or the recorder; sent only as an offer or an answer."""

    sdp: Sdp
    target: Target = "peer"


class Offer(_Description, tag="offer"):
    pass


class Answer(_Description, tag="answer"):
    pass


class IceCandidate(_Frame, tag="ice-candidate"):
    candidate: Annotated[str, msgspec.Meta(max_length=1024)]
    sdp_mid: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    sdp_mline_index: Annotated[int, msgspec.Meta(ge=0, le=64)] | None = None
    target: Target = "peer"


class IceRestart(_Frame, tag="ice-restart"):
    """Ask the other side to restart ICE (after a network change or a resume)."""


class Leave(_Frame, tag="leave"):
    pass


class ConsentRequest(_Frame, tag="consent-request"):
    pass


class ConsentGrant(_Frame, tag="consent-grant"):
    pass


class ConsentRevoke(_Frame, tag="consent-revoke"):
    pass


class Ping(_Frame, tag="ping"):
    pass


ClientMessage = (Join | Offer | Answer | IceCandidate | IceRestart | Leave | ConsentRequest | ConsentGrant
                 | ConsentRevoke | Ping)

# -- server → client ------------------------------------------------------------------------------------


class IceServer(msgspec.Struct, omit_defaults=True):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class RecordingState(_Frame, tag="recording-state"):
    """The true recording state, pushed to both members after every change."""

    phase: Literal["idle", "requested", "recording"]
    requested_by: str | None = None
    granted: list[str] = []
    recording_id: str | None = None


class Joined(_Frame, tag="joined"):
    session_id: str
    user_id: str
    ice_servers: list[IceServer]
    peer_present: bool
    resumed: bool
    recording: RecordingState


class PeerJoined(_Frame, tag="peer-joined"):
    resumed: bool = False


class PeerAway(_Frame, tag="peer-away"):
    """The other member's socket dropped; they keep their place for the grace period."""


class PeerLeft(_Frame, tag="peer-left"):
    pass


class _RelayedDescription(_Frame):
    """A session description relayed from the peer or the recorder; pushed only as an offer or an answer."""

    sdp: str
    source: Source = "peer"


class RelayedOffer(_RelayedDescription, tag="offer"):
    pass


class RelayedAnswer(_RelayedDescription, tag="answer"):
    pass


class RelayedIceCandidate(_Frame, tag="ice-candidate"):
    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    source: Source = "peer"


class RelayedIceRestart(_Frame, tag="ice-restart"):
    source: Source = "peer"


class Error(_Frame, tag="error"):
    reason: str
    detail: str = ""


class Closing(_Frame, tag="closing"):
    """The socket closes but the call need not be over (replaced by another window, instance shutdown,
    slow consumer): the client may reconnect."""

    reason: str


class CallEnded(_Frame, tag="call-ended"):
    """The programme ended the call: the client closes its peer connections, stops its camera and
    microphone, and does not reconnect. `reason`: `suspended` (this member), `pairing-ended`,
    `room-closed`, `ended-by-programme` (the other member can no longer be in the call; why is not said)."""

    reason: str


class IceServersRenewed(_Frame, tag="ice-servers"):
    """Fresh ICE servers (short-lived TURN credentials), pushed only while the member may stay in the call."""

    ice_servers: list[IceServer]


class Pong(_Frame, tag="pong"):
    pass


ServerMessage = (RecordingState | Joined | PeerJoined | PeerAway | PeerLeft | RelayedOffer | RelayedAnswer
                 | RelayedIceCandidate | RelayedIceRestart | Error | Closing | CallEnded | IceServersRenewed | Pong)

_client = msgspec.json.Decoder(ClientMessage)
_server = msgspec.json.Decoder(ServerMessage)
_encoder = msgspec.json.Encoder()


class BadFrame(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def decode_client(raw: str | bytes, max_bytes: int) -> ClientMessage:
    if len(raw) > max_bytes:
        raise BadFrame("too-large", f"frames are limited to {max_bytes} bytes")
    try:
        message: ClientMessage = _client.decode(raw)
        return message
    except msgspec.ValidationError as exc:
        # The validation message names the field, never echoes the value.
        raise BadFrame("invalid", str(exc)[:200]) from None
    except msgspec.DecodeError:
        raise BadFrame("malformed", "not a JSON object") from None


def decode_server(raw: str | bytes) -> ServerMessage:
    message: ServerMessage = _server.decode(raw)
    return message


def encode(frame: msgspec.Struct) -> bytes:
    return _encoder.encode(frame)


def relay_of(msg: Offer | Answer | IceCandidate | IceRestart, source: Source = "peer") -> msgspec.Struct:
    """The frame the other side receives for a client's signalling message."""
    match msg:
        case Offer(sdp=sdp):
            return RelayedOffer(sdp=sdp, source=source)
        case Answer(sdp=sdp):
            return RelayedAnswer(sdp=sdp, source=source)
        case IceCandidate(candidate=c, sdp_mid=mid, sdp_mline_index=idx):
            return RelayedIceCandidate(candidate=c, sdp_mid=mid, sdp_mline_index=idx, source=source)
    return RelayedIceRestart(source=source)
