"""Encoded media made here (libvpx VP8, libopus through PyAV) and the recorder's WebM made from it by
the real muxer: what the recorder streams to records, without a call."""

from __future__ import annotations

import fractions
import io

import av

from services.sessions.recorder.muxer import WebmMuxer


def vp8_frames(n: int, width: int = 160, height: int = 120, gop: int = 10) -> list[tuple[bytes, int]]:
    """`n` frames at 30 fps (RTP timestamps on the 90 kHz clock), a keyframe every `gop` frames."""
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = fractions.Fraction(1, 30)
    enc.gop_size = gop
    enc.options = {"deadline": "realtime", "cpu-used": "8"}
    out = []
    for i in range(n):
        frame = av.VideoFrame(width, height, "yuv420p")
        for p in frame.planes:
            p.update(bytes([(i * 7 + j) % 256 for j in range(p.buffer_size)]))
        frame.pts = i
        out += [(bytes(pkt), i * 3000) for pkt in enc.encode(frame)]
    out += [(bytes(pkt), (n + k) * 3000) for k, pkt in enumerate(enc.encode(None))]
    return out


def opus_packets(n: int) -> list[tuple[bytes, int]]:
    """`n` packets of 20 ms of silence (RTP timestamps on the 48 kHz clock)."""
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48000, "mono", "s16"
    out = []
    for i in range(n):
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(bytes(frame.planes[0].buffer_size))
        frame.sample_rate, frame.pts = 48000, i * 960
        out += [(bytes(pkt), i * 960) for pkt in enc.encode(frame)]
    return out


def decode_all(data: bytes) -> dict[int, int]:
    """Decoded frames per stream index (a decoding error raises)."""
    counts: dict[int, int] = {}
    with av.open(io.BytesIO(data)) as c:
        for packet in c.demux():
            if packet.size == 0:
                continue
            for _ in packet.decode():
                counts[packet.stream.index] = counts.get(packet.stream.index, 0) + 1
    return counts


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def recorder_webm(seconds: float, *, members: tuple[str, ...] = ("a", "b"), gop: int = 30,
                  video: bool = True) -> bytes:
    """What the recorder streams for a call of `seconds`: both members' audio (and video: 30 fps, a
    keyframe every `gop` frames), muxed live by the recorder's own muxer."""
    chunks: list[bytes] = []
    clock = Clock()
    mux = WebmMuxer(members, chunks.append, clock=clock, hold_s=0.5)
    audio = opus_packets(int(seconds * 50))
    frames = vp8_frames(int(seconds * 30), gop=gop) if video else []
    for i, (packet, ts) in enumerate(audio):
        clock.t = i * 0.02
        for m in members:
            mux.add(m, "audio", packet, ts)
        if i % 5 in (0, 2, 4) and (i // 5) * 3 + (i % 5) // 2 < len(frames):
            frame, vts = frames[(i // 5) * 3 + (i % 5) // 2]
            for m in members:
                mux.add(m, "video", frame, vts)
    mux.close()
    return b"".join(chunks)
