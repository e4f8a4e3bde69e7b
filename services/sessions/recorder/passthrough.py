"""Taking encoded frames out of aiortc without decoding them (aiortc 1.16 private internals).

aiortc has no public hook (its issue #984): each `RTCRtpReceiver` hands `(codec, JitterFrame)` to a
decoder thread through a private queue. We swap that queue for one that gives every frame to the
recorder and passes only the stop signal (`None`) to the thread, and we wrap the video jitter
buffer to mark frames assembled across a packet gap (JitterFrame carries no loss information).
`check_internals()` runs at start-up so an aiortc upgrade fails loudly, not silently.
"""

from __future__ import annotations

import inspect
import queue
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver

_QUEUE = "_RTCRtpReceiver__decoder_queue"
_JITTER = "_RTCRtpReceiver__jitter_buffer"

FrameCallback = Callable[[Any, Any], None]  # (codec, JitterFrame) on the event loop


class InternalsChanged(RuntimeError):
    pass


def check_internals(receiver: RTCRtpReceiver) -> None:
    for name in (_QUEUE, _JITTER):
        if not hasattr(receiver, name):
            raise InternalsChanged(f"aiortc RTCRtpReceiver has no {name}: pin aiortc==1.16.*")
    if not hasattr(receiver, "_send_rtcp_pli"):
        raise InternalsChanged("aiortc RTCRtpReceiver has no _send_rtcp_pli")


def check_aiortc() -> None:
    """At start-up: the private attributes the recorder relies on are still there."""
    if not hasattr(RTCRtpReceiver, "_send_rtcp_pli"):
        raise InternalsChanged("aiortc RTCRtpReceiver has no _send_rtcp_pli: pin aiortc==1.16.*")
    source = inspect.getsource(RTCRtpReceiver.__init__)
    if "self.__decoder_queue" not in source or "self.__jitter_buffer" not in source:
        raise InternalsChanged("aiortc RTCRtpReceiver internals changed: pin aiortc==1.16.*")


class _Tap(queue.Queue[Any]):
    def __init__(self, on_frame: FrameCallback) -> None:
        super().__init__()
        self.on_frame = on_frame

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None)  # the stop signal still ends the decoder thread and the track
        else:
            self.on_frame(*item)


def _signed16(value: int) -> int:
    return ((value + 32768) % 65536) - 32768


class _GapMarker:
    """Wraps `JitterBuffer.add`: each emitted frame gets `complete` (all its packets, and none lost
    between it and the previous frame) and `ssrc`."""

    def __init__(self, jitter: Any) -> None:
        self._add = jitter.add
        self._seqs: dict[int, set[int]] = {}
        self._last: int | None = None
        jitter.add = self.add

    def add(self, packet: Any) -> tuple[bool, Any]:
        self._seqs.setdefault(packet.timestamp, set()).add(packet.sequence_number)
        if len(self._seqs) > 128:
            self._seqs.pop(next(iter(self._seqs)))
        pli, frame = self._add(packet)
        if frame is not None:
            seqs = self._seqs.pop(frame.timestamp, set())
            complete = bool(seqs)
            if seqs:
                ref = next(iter(seqs))
                offsets = sorted(_signed16(s - ref) for s in seqs)
                complete = offsets[-1] - offsets[0] + 1 == len(seqs)
                first = (ref + offsets[0]) % 65536
                follows = self._last is None or _signed16(first - self._last) == 1
                frame.intact = complete
                frame.follows = follows
                self._last = (ref + offsets[-1]) % 65536
            else:
                frame.intact = frame.follows = False
            frame.ssrc = packet.ssrc
        return pli, frame


def tap(receiver: RTCRtpReceiver, kind: str, on_frame: FrameCallback) -> None:
    """Install the hooks; call right after `addTransceiver`, before negotiation starts the receiver."""
    check_internals(receiver)
    setattr(receiver, _QUEUE, _Tap(on_frame))
    if kind == "video":
        _GapMarker(getattr(receiver, _JITTER))


def is_vp8_keyframe(data: bytes) -> bool:
    return len(data) >= 10 and not data[0] & 0x01 and data[3:6] == b"\x9d\x01\x2a"


def vp8_size(data: bytes) -> tuple[int, int]:
    return (int.from_bytes(data[6:8], "little") & 0x3FFF, int.from_bytes(data[8:10], "little") & 0x3FFF)
