"""Both members' encoded VP8 and Opus frames into one WebM, without decoding (PyAV `add_mux_stream`).

The output is a non-seekable file-like object, so the Matroska muxer writes complete clusters in
order (unknown-size segment, no cues) and hands them to `on_chunk` as it goes. Matroska needs every
stream before the header: video streams take their size from the member's first keyframe, so audio
and video are held until each member's keyframe arrived (or `hold_s` passed: a camera may be off).
Timestamps: raw RTP timestamps unwrapped, each stream anchored to its first frame's arrival time on
one shared clock, non-increasing ones dropped (Matroska rejects them).
"""

from __future__ import annotations

import fractions
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av

from services.sessions.recorder.passthrough import is_vp8_keyframe, vp8_size

RATES = {"video": 90000, "audio": 48000}
DEFAULT_SIZE = (640, 480)
# A Cluster closes after `cluster_ms` or this many bytes (FFmpeg closes a live one at 32 KiB: a dozen a
# second at 3 Mbit/s, each one more element for records to index).
CLUSTER_BYTES = 4 * 1024 * 1024


class _Out:
    def __init__(self, on_chunk: Callable[[bytes], None]) -> None:
        self.on_chunk = on_chunk
        self.position = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.position += len(chunk)
        self.on_chunk(chunk)
        return len(chunk)

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None


@dataclass
class TrackStats:
    received: int = 0
    muxed: int = 0
    dropped_waiting_keyframe: int = 0
    dropped_non_increasing: int = 0
    gaps: int = 0


@dataclass
class _Track:
    member: str
    kind: str
    stats: TrackStats = field(default_factory=TrackStats)
    stream: Any = None
    size: tuple[int, int] | None = None
    waiting_keyframe: bool = True
    last_raw: int | None = None
    unwrapped: int = 0
    first: int | None = None
    anchor: int = 0
    last_pts: int = -1


class WebmMuxer:
    def __init__(self, members: tuple[str, ...], on_chunk: Callable[[bytes], None], *, hold_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic, cluster_ms: int = 1000) -> None:
        self.members = members
        self.clock = clock
        self.t0 = clock()
        self.hold_s = hold_s
        self.tracks = {(m, k): _Track(m, k) for m in members for k in ("audio", "video")}
        self._out = _Out(on_chunk)
        self._cluster_ms = cluster_ms
        self.container: Any = None
        self._held: list[tuple[_Track, bytes, int, float, bool]] = []
        self.closed = False

    def stats(self) -> dict[str, TrackStats]:
        return {f"{m}:{k}": t.stats for (m, k), t in self.tracks.items()}

    def needs_keyframe(self, member: str) -> bool:
        return self.tracks[(member, "video")].waiting_keyframe

    def add(self, member: str, kind: str, data: bytes, timestamp: int, *, intact: bool = True) -> bool:
        """Take one frame; returns False when video was dropped and a keyframe should be requested."""
        if self.closed:
            return True
        track = self.tracks[(member, kind)]
        track.stats.received += 1
        arrival = self.clock()
        key = False
        if kind == "video":
            key = is_vp8_keyframe(data)
            if not intact and not key:
                if not track.waiting_keyframe:
                    track.stats.gaps += 1
                track.waiting_keyframe = True
            if track.waiting_keyframe:
                if not (key and intact):
                    track.stats.dropped_waiting_keyframe += 1
                    return False
                track.waiting_keyframe = False
                if track.size is None:
                    track.size = vp8_size(data)
        if self.container is None:
            self._held.append((track, data, timestamp, arrival, key))
            if self._ready(arrival):
                self._open()
            return True
        self._mux(track, data, timestamp, arrival, key)
        return True

    def _ready(self, now: float) -> bool:
        videos = [t for t in self.tracks.values() if t.kind == "video"]
        return all(t.size is not None for t in videos) or now - self.t0 >= self.hold_s

    def _open(self) -> None:
        self.container = av.open(self._out, mode="w", format="webm",
                                 options={"cluster_time_limit": str(self._cluster_ms), "live": "1",
                                          "cluster_size_limit": str(CLUSTER_BYTES)})
        for member in self.members:
            video = self.tracks[(member, "video")]
            width, height = video.size or DEFAULT_SIZE
            video.stream = self.container.add_mux_stream("vp8", width=width, height=height)
            video.stream.metadata["title"] = f"{member} video"
            audio = self.tracks[(member, "audio")]
            # Only for the OpusHead that Matroska needs: the encoder is never used.
            audio.stream = self.container.add_stream("libopus", rate=48000, layout="stereo")
            audio.stream.metadata["title"] = f"{member} audio"
        held, self._held = self._held, []
        for track, data, timestamp, arrival, key in held:
            self._mux(track, data, timestamp, arrival, key)

    def _mux(self, track: _Track, data: bytes, timestamp: int, arrival: float, key: bool) -> None:
        rate = RATES[track.kind]
        if track.last_raw is None:
            track.unwrapped = 0
            track.first = 0
            track.anchor = round((arrival - self.t0) * rate)
        else:
            delta = (timestamp - track.last_raw) & 0xFFFFFFFF
            if delta >= 0x80000000:
                delta -= 0x100000000
            track.unwrapped += delta
        track.last_raw = timestamp
        pts = track.anchor + track.unwrapped
        if pts <= track.last_pts:
            track.stats.dropped_non_increasing += 1
            return
        track.last_pts = pts
        packet = av.Packet(data)
        packet.stream = track.stream
        packet.time_base = fractions.Fraction(1, rate)
        packet.pts = packet.dts = pts
        if key:
            packet.is_keyframe = True
        self.container.mux(packet)
        track.stats.muxed += 1

    def close(self) -> None:
        """Write what is held and the trailer; the last chunks reach `on_chunk` before this returns."""
        if self.closed:
            return
        if self.container is None and self._held:
            self._open()
        self.closed = True
        if self.container is not None:
            self.container.close()
