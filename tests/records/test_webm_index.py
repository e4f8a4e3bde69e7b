"""The WebM index records learns from the recorder's live stream: Duration, SeekHead and Cues in a new
head, the clusters unchanged; FFmpeg (PyAV) then knows the length and seeks by the cues."""

from __future__ import annotations

import io
import struct

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.records.recordings import ebml as e
from services.records.recordings.webm import WebmIndex
from tests.support.media import decode_all, recorder_webm

SECONDS = 6.0


@pytest.fixture(scope="module")
def live() -> bytes:
    return recorder_webm(SECONDS, gop=30)


def indexed(data: bytes, chunk: int) -> tuple[WebmIndex, bytes]:
    index = WebmIndex()
    for at in range(0, len(data), chunk):
        index.feed(data[at:at + chunk])
    index.finish()
    assert index.failed is None and index.complete
    start, end = index.body
    return index, index.head() + data[start:end]


def top_level(data: bytes) -> dict[int, list[tuple[int, int]]]:
    """Segment children: id -> [(offset in the segment's data, size)]."""
    _, ebml_size, ebml_head = e.read_header(data, 0) or (0, 0, 0)
    at = ebml_head + ebml_size
    eid, size, head = e.read_header(data, at) or (0, 0, 0)
    assert eid == e.SEGMENT and size == len(data) - at - head  # a Segment of known size
    found: dict[int, list[tuple[int, int]]] = {}
    for cid, start, _, end in e.children(data, at + head, len(data)):
        found.setdefault(cid, []).append((start - at - head, end - start))
    return found


def test_the_live_stream_has_no_length_and_the_indexed_one_has(live: bytes) -> None:
    with av.open(io.BytesIO(live)) as c:
        assert c.duration is None
    index, out = indexed(live, 65536)
    with av.open(io.BytesIO(out)) as c:
        assert c.duration is not None and abs(c.duration / 1e6 - SECONDS) < 0.1
    assert index.duration == pytest.approx(SECONDS * 1000, abs=100)
    # The same media, frame for frame: only the head changed.
    assert decode_all(out) == decode_all(live)


def test_seek_head_and_cues_point_at_what_they_name(live: bytes) -> None:
    _, out = indexed(live, 4096)
    elements = top_level(out)
    assert set(elements) >= {e.SEEK_HEAD, e.INFO, e.TRACKS, e.CUES, e.CLUSTER}
    assert e.VOID not in elements and len(elements[e.SEEK_HEAD]) == 1 and len(elements[e.CUES]) == 1
    # Cues come before the clusters: a player has them with the head.
    assert elements[e.CUES][0][0] < elements[e.CLUSTER][0][0]
    segment_data = len(out) - sum(size for entries in elements.values() for _, size in entries)
    clusters = {offset for offset, _ in elements[e.CLUSTER]}
    seek_at, seek_size = elements[e.SEEK_HEAD][0]
    seek = out[segment_data + seek_at:segment_data + seek_at + seek_size]
    _, _, head = e.read_header(seek, 0) or (0, 0, 0)
    for _, _, start, end in e.children(seek, head, len(seek)):
        (_, _, s0, s1), (_, _, p0, p1) = e.children(seek, start, end)
        eid, position = e.read_uint(seek[s0:s1]), e.read_uint(seek[p0:p1])
        assert position in {offset for offset, _ in elements[eid]}
    cues_at, cues_size = elements[e.CUES][0]
    cues = out[segment_data + cues_at:segment_data + cues_at + cues_size]
    _, _, head = e.read_header(cues, 0) or (0, 0, 0)
    points = e.children(cues, head, len(cues))
    assert len(points) >= SECONDS - 1  # a keyframe a second on two video tracks
    times = []
    for _, _, start, end in points:
        fields = e.children(cues, start, end)
        times.append(e.read_uint(cues[fields[0][2]:fields[0][3]]))
        for _, _, fs, fe in fields[1:]:
            positions = {pid: e.read_uint(cues[ps:pe]) for pid, _, ps, pe in e.children(cues, fs, fe)}
            assert positions[e.CUE_CLUSTER_POSITION] in clusters
            assert positions[e.CUE_TRACK] in (1, 3)  # the video tracks (audio is 2 and 4)
    assert times == sorted(times) and times[0] == 0


@pytest.mark.parametrize("target", [1.5, 3.2, 5.5])
def test_a_seek_lands_on_the_keyframe_before_the_target(live: bytes, target: float) -> None:
    _, out = indexed(live, 65536)
    with av.open(io.BytesIO(out)) as c:
        video = c.streams.video[0]
        c.seek(int(target / video.time_base), stream=video)
        packet = next(p for p in c.demux(video) if p.size)
        assert packet.is_keyframe and target - 1.05 <= float(packet.pts * video.time_base) <= target


def test_audio_only_calls_get_cues_on_the_audio(live: bytes) -> None:
    index, out = indexed(recorder_webm(3.0, video=False), 8192)
    assert index.duration == pytest.approx(3000, abs=100)
    with av.open(io.BytesIO(out)) as c:
        assert c.duration is not None and abs(c.duration / 1e6 - 3.0) < 0.1
        audio = c.streams.audio[0]
        c.seek(int(2.0 / audio.time_base), stream=audio)
        assert 1.0 <= float(next(p for p in c.demux(audio) if p.size).pts * audio.time_base) <= 2.0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=40_000), min_size=1, max_size=60))
def test_where_the_stream_is_cut_into_chunks_does_not_matter(live: bytes, cuts: list[int]) -> None:
    reference, _ = indexed(live, len(live))
    index = WebmIndex()
    at = 0
    for n in cuts * (len(live) // max(1, sum(cuts)) + 1):
        index.feed(live[at:at + n])
        at += n
        if at >= len(live):
            break
    index.finish()
    assert index.complete and index.head() == reference.head() and index.body == reference.body


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda d: b"\x00\x01" + d, "element id longer"),
    (lambda d: b"RIFF" + bytes(200), "not an EBML stream"),
    (lambda d: d[:-5], "ends inside an element"),
    (lambda d: d[:d.index(e.encode_id(e.CLUSTER))], "no cluster with a keyframe"),
    (lambda d: d.replace(b"webm", b"avi1", 1), "not a WebM stream"),
])
def test_what_is_not_the_recorders_webm_is_not_indexed(live: bytes, mangle, reason: str) -> None:  # type: ignore[no-untyped-def]
    index = WebmIndex()
    index.feed(mangle(live))
    index.finish()
    assert not index.complete and index.failed is not None and reason in index.failed


def test_a_cluster_of_unknown_size_is_not_indexed(live: bytes) -> None:
    cluster = e.encode_id(e.CLUSTER)
    at = live.index(cluster)
    _, _, head = e.read_header(live, at) or (0, 0, 0)
    unknown = cluster + b"\x01" + b"\xff" * 7
    index = WebmIndex()
    index.feed(live[:at] + unknown + live[at + head:])
    index.finish()
    assert not index.complete and "unknown size" in (index.failed or "")


def test_duration_is_a_float_in_timestamp_scale_units(live: bytes) -> None:
    index, out = indexed(live, 65536)
    at = out.index(e.encode_id(e.DURATION))
    assert out[at + 2] == 0x88  # 8 bytes
    assert struct.unpack(">d", out[at + 3:at + 11])[0] == float(index.duration)
