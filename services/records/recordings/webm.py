"""A length and a seek index for the recorder's live WebM, learnt as the recording streams in.

The recorder muxes live: its Segment has an unknown size and there is no Duration and no Cues, since
it cannot go back in a stream. So a browser shows no length and seeks by guessing. `WebmIndex` reads
the stream as it passes through ingest (nothing is kept but the head and a few numbers per Cluster):

- the head: the EBML header, Info (its TimestampScale), Tracks (which are video) and any Tags;
- per Cluster: its offset, and the first keyframe of each track in it (offset and time);
- the last block's time, which is the Duration.

At the end `head()` is a new head for the same clusters: EBML header, a Segment of known size, a
SeekHead, Info with Duration, Tracks, Tags, then Cues (a point per Cluster with a keyframe, on the
video tracks; on every track when no video was sent), placed before the clusters so a player has
them at once. The clusters follow unchanged (`body` is their range in the stream). Cue positions are
written on 8 bytes so that the Cues' size does not depend on where they point.

Anything else (a non-WebM body, a Cluster of unknown size, a cut-off element, oversized parts) sets
`failed` with a reason, and the recording is kept as it came.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.records.recordings import ebml as e

MAX_HEAD_BYTES = 1024 * 1024
MAX_ELEMENT_BYTES = 64 * 1024 * 1024
MAX_CUES = 1_000_000
DROPPED_FROM_HEAD = (e.SEEK_HEAD, e.VOID, e.CRC32, e.CUES)


@dataclass(frozen=True, slots=True)
class Cue:
    time: int  # TimestampScale units
    track: int
    cluster: int  # the Cluster's offset from the first Cluster
    relative: int  # the block's offset in the Cluster's data


class WebmIndex:
    """Feed it the stream in order; then `complete` says whether `head()` and `body` can be used."""

    def __init__(self) -> None:
        self.failed: str | None = None
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._state = "ebml"
        self._ebml = b""
        self._info: list[bytes] = []  # Info's children but Duration
        self._kept: list[tuple[int, bytes]] = []  # Tracks, Tags, ...: top-level elements copied as they are
        self._video: set[int] = set()
        self._cues: list[Cue] = []
        self._has_video_cue = False
        self._first_cluster: int | None = None
        self._end = 0  # end of the last complete Cluster
        self._last_time = 0
        self._scale = 1_000_000  # nanoseconds per timestamp unit (Matroska's default: milliseconds)

    @property
    def complete(self) -> bool:
        return (self.failed is None and self._state == "clusters" and not self._buf
                and self._first_cluster is not None and bool(self._cues))

    @property
    def body(self) -> tuple[int, int]:
        """The stream's [start, end) that holds the clusters."""
        assert self._first_cluster is not None  # noqa: S101 - only asked when complete
        return self._first_cluster, self._end

    @property
    def duration(self) -> int:
        """The last block's time, in TimestampScale units."""
        return self._last_time

    @property
    def duration_ms(self) -> int:
        return self._last_time * self._scale // 1_000_000

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        if self.failed is not None:
            return
        self._buf += chunk
        try:
            while self._step():
                pass
        except e.Malformed as exc:
            self._fail(str(exc))

    def finish(self) -> None:
        """The stream ended: says why it cannot be indexed, if it cannot."""
        if self.failed is None and not self.complete:
            self._fail("the stream ends inside an element" if self._buf else "no cluster with a keyframe")

    def head(self) -> bytes:
        """The new head (see the module's docstring); the clusters in `body` follow it."""
        info = e.element(e.INFO, b"".join(self._info) + e.float_element(e.DURATION, float(self._last_time)))
        kept = [(e.INFO, info), *self._kept]
        ids = [eid for eid, _ in kept] + [e.CUES]
        pos = len(_seek_head([(eid, 0) for eid in ids]))
        positions = []
        for eid, data in kept:
            positions.append((eid, pos))
            pos += len(data)
        positions.append((e.CUES, pos))
        pos += len(self._cues_element(0))
        children = _seek_head(positions) + b"".join(data for _, data in kept) + self._cues_element(pos)
        start, end = self.body
        return self._ebml + e.encode_id(e.SEGMENT) + e.encode_size(len(children) + end - start, 8) + children

    # -- reading ------------------------------------------------------------------------------------

    def _step(self) -> bool:
        header = e.read_header(self._buf, 0)
        if header is None:
            return False
        eid, size, head_len = header
        if self._state == "ebml":
            if eid != e.EBML or size == e.UNKNOWN or size > MAX_HEAD_BYTES:
                raise e.Malformed("not an EBML stream")
            return self._take(head_len + size, self._read_ebml)
        if self._state == "segment":
            if eid != e.SEGMENT:
                raise e.Malformed("no Segment after the EBML header")
            self._consume(head_len)
            self._state = "head"
            return True
        if self._state == "head" and eid == e.CLUSTER:
            self._first_cluster = self._base
            self._state = "clusters"
        if size == e.UNKNOWN:
            raise e.Malformed("an element of unknown size inside the Segment")
        if self._state == "head":
            if self._base + head_len + size > MAX_HEAD_BYTES:
                raise e.Malformed("head too large")
            return self._take(head_len + size, self._read_head_element)
        if head_len + size > MAX_ELEMENT_BYTES:
            raise e.Malformed("element too large")
        return self._take(head_len + size, self._read_cluster if eid == e.CLUSTER else _ignore)

    def _take(self, length: int, read: object) -> bool:
        if len(self._buf) < length:
            return False
        data = bytes(self._buf[:length])
        offset = self._base
        read(data, offset)  # type: ignore[operator]
        self._consume(length)
        return True

    def _consume(self, length: int) -> None:
        del self._buf[:length]
        self._base += length

    def _read_ebml(self, data: bytes, _offset: int) -> None:
        _, _, head_len = e.read_header(data, 0) or (0, 0, 0)
        for eid, _, start, end in e.children(data, head_len, len(data)):
            if eid == 0x4282 and data[start:end] not in (b"webm", b"matroska"):  # DocType
                raise e.Malformed("not a WebM stream")
        self._ebml = data
        self._state = "segment"

    def _read_head_element(self, data: bytes, _offset: int) -> None:
        eid, _, head_len = e.read_header(data, 0) or (0, 0, 0)
        if eid in DROPPED_FROM_HEAD:
            return
        if eid == e.INFO:
            parts = e.children(data, head_len, len(data))
            self._info = [data[at:end] for cid, at, _, end in parts if cid != e.DURATION]
            self._scale = next((e.read_uint(data[s:t]) for cid, _, s, t in parts if cid == e.TIMESTAMP_SCALE),
                               self._scale) or self._scale
            return
        if eid == e.TRACKS:
            for cid, _, s, end in e.children(data, head_len, len(data)):
                if cid == e.TRACK_ENTRY:
                    fields = {fid: e.read_uint(data[fs:fe]) for fid, _, fs, fe in e.children(data, s, end)
                              if fid in (e.TRACK_NUMBER, e.TRACK_TYPE)}
                    if fields.get(e.TRACK_TYPE) == e.VIDEO_TRACK and e.TRACK_NUMBER in fields:
                        self._video.add(fields[e.TRACK_NUMBER])
        self._kept.append((eid, data))

    def _read_cluster(self, data: bytes, offset: int) -> None:
        _, _, head_len = e.read_header(data, 0) or (0, 0, 0)
        assert self._first_cluster is not None  # noqa: S101 - set when the first Cluster was seen
        cluster_time = 0
        seen: set[int] = set()
        for cid, at, start, end in e.children(data, head_len, len(data)):
            if cid == e.TIMESTAMP:
                cluster_time = e.read_uint(data[start:end])
            elif cid in (e.SIMPLE_BLOCK, e.BLOCK_GROUP):
                track, time, key = _block(data, cid, start, end)
                time += cluster_time
                self._last_time = max(self._last_time, time)
                if key and track not in seen and self._wanted(track):
                    seen.add(track)
                    if track in self._video and not self._has_video_cue:
                        self._has_video_cue = True
                        self._cues.clear()  # audio cues were only a stand-in until video came
                    self._cues.append(Cue(time, track, offset - self._first_cluster, at - head_len))
        if len(self._cues) > MAX_CUES:
            raise e.Malformed("too many cues")
        self._end = offset + len(data)

    def _wanted(self, track: int) -> bool:
        """Cues go on the video tracks; on the others only while no video keyframe came (memory stays
        flat: every audio block is a keyframe)."""
        return track in self._video or not self._has_video_cue

    def _fail(self, reason: str) -> None:
        self.failed = reason
        self._buf = bytearray()

    # -- writing ------------------------------------------------------------------------------------

    def _cues_element(self, first_cluster: int) -> bytes:
        cues = self._cues  # video keyframes only, once there was one (`_wanted`)
        points = []
        for time in sorted({c.time for c in cues}):
            positions = b"".join(
                e.element(e.CUE_TRACK_POSITIONS, e.uint_element(e.CUE_TRACK, c.track)
                          + e.uint_element(e.CUE_CLUSTER_POSITION, first_cluster + c.cluster, 8)
                          + e.uint_element(e.CUE_RELATIVE_POSITION, c.relative))
                for c in cues if c.time == time)
            points.append(e.element(e.CUE_POINT, e.uint_element(e.CUE_TIME, time) + positions))
        return e.element(e.CUES, b"".join(points))


def _seek_head(positions: list[tuple[int, int]]) -> bytes:
    return e.element(e.SEEK_HEAD, b"".join(
        e.element(e.SEEK, e.element(e.SEEK_ID, e.encode_id(eid)) + e.uint_element(e.SEEK_POSITION, pos, 8))
        for eid, pos in positions))


def _block(data: bytes, cid: int, start: int, end: int) -> tuple[int, int, bool]:
    """(track, time relative to the Cluster, keyframe) of a SimpleBlock or BlockGroup."""
    if cid == e.BLOCK_GROUP:
        parts = e.children(data, start, end)
        block = next(((s, t) for pid, _, s, t in parts if pid == e.BLOCK), None)
        if block is None:
            raise e.Malformed("a BlockGroup without a Block")
        track, time, _ = _block_header(data, *block)
        return track, time, not any(part[0] == e.REFERENCE_BLOCK for part in parts)
    track, time, flags = _block_header(data, start, end)
    return track, time, bool(flags & 0x80)


def _block_header(data: bytes, start: int, end: int) -> tuple[int, int, int]:
    sized = e.read_size(data, start)
    if sized is None or sized[0] == e.UNKNOWN or start + sized[1] + 3 > end:
        raise e.Malformed("a block too short for its header")
    at = start + sized[1]
    return sized[0], int.from_bytes(data[at:at + 2], "big", signed=True), data[at + 2]


def _ignore(_data: bytes, _offset: int) -> None:
    """A top-level element among the clusters (Cues, Tags, Void): dropped from the index, kept in the body."""
