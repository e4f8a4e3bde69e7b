"""The passthrough muxer on frames encoded here: decodes with zero errors, both members, A/V."""

from __future__ import annotations

import io

import av
import pytest

from services.sessions.recorder.muxer import WebmMuxer
from services.sessions.recorder.passthrough import is_vp8_keyframe, vp8_size
from tests.support.media import Clock, decode_all, opus_packets, vp8_frames


@pytest.mark.parametrize("wrap", [0, 2**32 - 30_000])
def test_two_members_mux_and_decode(wrap: int) -> None:
    chunks: list[bytes] = []
    clock = Clock()
    mux = WebmMuxer(("a", "b"), chunks.append, clock=clock)
    video = vp8_frames(60)
    assert is_vp8_keyframe(video[0][0]) and vp8_size(video[0][0]) == (160, 120)
    audio = opus_packets(100)
    # Audio arrives first (the MediaRecorder pitfall): it must be held, not lost.
    for i, (pkt, ts) in enumerate(audio):
        clock.t = i * 0.02
        for m in ("a", "b"):
            mux.add(m, "audio", pkt, (ts + wrap) % 2**32)
        if i % 3 == 0 and i // 3 < len(video):
            pkt_v, ts_v = video[i // 3]
            for m in ("a", "b"):
                mux.add(m, "video", pkt_v, (ts_v + wrap) % 2**32)
    mux.close()
    data = b"".join(chunks)
    counts = decode_all(data)
    assert len(counts) == 4
    stats = mux.stats()
    assert stats["a:video"].muxed == stats["b:video"].muxed >= 33
    assert all(s.dropped_non_increasing == 0 for s in stats.values())
    assert sorted(counts.values())[0] >= 33


def test_video_before_a_keyframe_and_after_a_gap_is_dropped() -> None:
    chunks: list[bytes] = []
    mux = WebmMuxer(("a",), chunks.append, clock=Clock())
    video = vp8_frames(25, gop=10)
    assert not mux.add("a", "video", video[1][0], video[1][1])  # delta frame first: dropped, ask keyframe
    assert mux.add("a", "video", video[0][0], video[0][1])
    for pkt, ts in video[2:5]:
        mux.add("a", "video", pkt, ts)
    assert not mux.add("a", "video", video[6][0], video[6][1], intact=False)
    assert not mux.add("a", "video", video[7][0], video[7][1])
    for pkt, ts in video[10:]:
        mux.add("a", "video", pkt, ts)
    mux.close()
    stats = mux.stats()["a:video"]
    assert stats.gaps == 1 and stats.dropped_waiting_keyframe == 3
    with av.open(io.BytesIO(b"".join(chunks))) as c:
        frames = sum(1 for p in c.demux(video=0) if p.size for _ in p.decode())
    assert frames == stats.muxed == 1 + 3 + 15
