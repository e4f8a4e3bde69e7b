"""Real servers and real WebRTC members for the signalling and recorder tests."""

from __future__ import annotations

import array
import asyncio
import contextlib
import fractions
import io
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aioice.ice
import av
import httpx
import uvicorn
import websockets
from aiortc import (
    RTCConfiguration,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame, VideoFrame

from deploy.local.children import free_port
from services.sessions.app import create_app
from services.sessions.config import Settings
from services.sessions.signalling import messages as msg
from tests.support.identity import TestIssuer
from tests.support.sessions import ADMIN, ROLES


def loopback_host_addresses() -> contextlib.AbstractContextManager[None]:
    """aioice skips 127.0.0.1 when gathering: the test network is loopback only (RUNTIME.md)."""
    original = aioice.ice.get_host_addresses

    @contextlib.contextmanager
    def patch() -> Any:
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
        try:
            yield
        finally:
            aioice.ice.get_host_addresses = original

    return patch()  # type: ignore[no-any-return]


@dataclass
class Server:
    url: str
    settings: Settings
    server: uvicorn.Server
    task: asyncio.Task[None]
    app: Any

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://")


@contextlib.asynccontextmanager
async def serve(settings: Settings, **app_kwargs: Any) -> AsyncIterator[Server]:
    """The sessions app under a real uvicorn, in this event loop (so its recorder shares our loop)."""
    port = free_port()
    settings = Settings(**{**settings.__dict__, "port": port})
    app = create_app(settings, **app_kwargs)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on",
                            ws_ping_interval=None)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Server(f"http://127.0.0.1:{port}", settings, server, task, app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def http(base: str, issuer: TestIssuer, method: str, path: str, sub: str, **kw: Any) -> httpx.Response:
    async with issuer.bind(httpx.AsyncClient(base_url=base)) as client:
        return await client.request(method, path, headers=issuer.headers(sub, ROLES[sub], "sessions"), **kw)


async def open_session(base: str, issuer: TestIssuer, mentor: str, mentee: str, *,
                       starts_in: timedelta = timedelta(minutes=1)) -> tuple[str, str]:
    r = await http(base, issuer, "POST", "/pairings", ADMIN, json={"mentor_id": mentor, "mentee_id": mentee})
    assert r.status_code == 201, r.text
    pid = r.json()["pairing_id"]
    for who in (mentor, mentee):
        assert (await http(base, issuer, "POST", f"/pairings/{pid}/accept", who)).status_code == 200
    start = datetime.now(UTC) + starts_in
    r = await http(base, issuer, "POST", f"/pairings/{pid}/sessions", mentor, json={
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()})
    assert r.status_code == 201, r.text
    return pid, r.json()["session_id"]


# -- synthetic media with counters -------------------------------------------------------------------------


class CountingVideo(MediaStreamTrack):
    """A moving test pattern at `fps`; counts frames handed to the encoder."""

    kind = "video"

    def __init__(self, fps: int = 30, width: int = 160, height: int = 120) -> None:
        super().__init__()
        self.fps, self.width, self.height = fps, width, height
        self.sent = 0
        self.sent_at: list[float] = []
        self._start: float | None = None
        self._n = 0
        # A smooth gradient with a little noise: cheap to encode (the test process encodes four streams),
        # but still changing every frame.
        rng = random.Random(1)
        self._luma = bytes(((i % width) + (i // width) * 2 + rng.randrange(4)) % 256
                           for i in range(width * height * 2))
        self._chroma = bytes([128]) * (width * height // 4)

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._n / self.fps
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = VideoFrame(self.width, self.height, "yuv420p")
        size = self.width * self.height
        offset = (self._n * 4 * self.width) % size  # scroll the pattern: real motion for the encoder
        frame.planes[0].update(self._luma[offset:offset + size])
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = self._n * (90000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self._n += 1
        self.sent += 1
        self.sent_at.append(time.monotonic())
        return frame


# 400 Hz: exactly 8 periods per 20 ms frame, so one buffer repeats seamlessly.
_TONE = array.array("h", (int(8000 * math.sin(2 * math.pi * 400 * i / 48000)) for i in range(960))).tobytes()


class Tone(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._n = 0

    async def recv(self) -> AudioFrame:
        rate, samples = 48000, int(AUDIO_PTIME * 48000)
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._n * AUDIO_PTIME - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(_TONE)
        frame.sample_rate = rate
        frame.pts = self._n * samples
        frame.time_base = fractions.Fraction(1, rate)
        self._n += 1
        return frame


class Counted(MediaStreamTrack):
    """Passes frames through and notes when each was handed to the encoder."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source
        self.at: list[float] = []

    async def recv(self) -> Any:
        frame = await self.source.recv()
        self.at.append(time.monotonic())
        return frame

    def stop(self) -> None:
        super().stop()
        self.source.stop()


# -- a member: signalling socket + peer connection to the other member + one to the recorder ------------


@dataclass
class Member:
    server: Server
    issuer: TestIssuer
    user_id: str
    session_id: str
    ws: Any = None
    frames: list[msg.ServerMessage] = field(default_factory=list)
    cond: asyncio.Condition = field(default_factory=asyncio.Condition)
    pc: RTCPeerConnection | None = None
    recorder_pcs: list[RTCPeerConnection] = field(default_factory=list)
    video: CountingVideo = field(default_factory=CountingVideo)
    audio: Tone = field(default_factory=Tone)
    relay: MediaRelay = field(default_factory=MediaRelay)
    closed: tuple[int, str] | None = None
    received_tracks: list[Any] = field(default_factory=list)
    to_recorder: Counted | None = None
    _reader: asyncio.Task[None] | None = None

    async def connect(self, *, join: bool = True, server: Server | None = None) -> None:
        base = (server or self.server).ws
        url = f"{base}/sessions/{self.session_id}/signal"
        self.ws = await websockets.connect(url, max_size=2**22, additional_headers=self.issuer.ws_headers(
            self.user_id, ROLES[self.user_id], "sessions", url))
        self.closed = None
        self._reader = asyncio.create_task(self._read())
        if join:
            await self.send(msg.Join())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = msg.decode_server(raw)
                if isinstance(frame, msg.RelayedOffer) and frame.source == "recorder":
                    await self._answer_recorder(frame.sdp)
                async with self.cond:
                    self.frames.append(frame)
                    self.cond.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            async with self.cond:
                self.closed = (self.ws.close_code or 1006, self.ws.close_reason or "")
                self.cond.notify_all()

    async def send(self, frame: Any) -> None:
        await self.ws.send(msg.encode(frame).decode())

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    async def expect(self, pred: Callable[[msg.ServerMessage], bool], timeout: float = 10.0) -> msg.ServerMessage:
        async def find() -> msg.ServerMessage:
            async with self.cond:
                while True:
                    for i, f in enumerate(self.frames):
                        if pred(f):
                            return self.frames.pop(i)
                    if self.closed is not None:
                        raise AssertionError(f"socket closed {self.closed} while waiting; frames={self.frames}")
                    await self.cond.wait()
        return await asyncio.wait_for(find(), timeout)

    async def expect_type(self, cls: type[Any], timeout: float = 10.0, **fields: Any) -> Any:
        return await self.expect(lambda f: isinstance(f, cls) and all(getattr(f, k) == v for k, v in fields.items()),
                                 timeout)

    async def wait_closed(self, timeout: float = 10.0) -> tuple[int, str]:
        async def wait() -> tuple[int, str]:
            async with self.cond:
                while self.closed is None:
                    await self.cond.wait()
                return self.closed
        return await asyncio.wait_for(wait(), timeout)

    def new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(self.relay.subscribe(self.audio))
        pc.addTrack(self.relay.subscribe(self.video))
        return pc

    async def call(self) -> None:
        """Offer to the other member (the caller side)."""
        self.pc = self.new_pc()
        self._collect_tracks(self.pc)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.send(msg.Offer(sdp=self.pc.localDescription.sdp))
        answer = await self.expect_type(msg.RelayedAnswer, source="peer")
        await self.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))

    async def answer_call(self) -> None:
        offer = await self.expect_type(msg.RelayedOffer, source="peer")
        self.pc = self.new_pc()
        self._collect_tracks(self.pc)
        await self.pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.send(msg.Answer(sdp=self.pc.localDescription.sdp))

    def _collect_tracks(self, pc: RTCPeerConnection) -> None:
        @pc.on("track")
        def on_track(track: Any) -> None:
            self.received_tracks.append(track)

    async def _answer_recorder(self, sdp: str) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(self.relay.subscribe(self.audio))
        self.to_recorder = Counted(self.relay.subscribe(self.video))
        pc.addTrack(self.to_recorder)
        self.recorder_pcs.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.send(msg.Answer(sdp=pc.localDescription.sdp, target="recorder"))

    async def wait_connected(self, pc: RTCPeerConnection | None = None, timeout: float = 15.0) -> None:
        pc = pc or self.pc
        assert pc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pc.connectionState != "connected":
            assert pc.connectionState not in ("failed", "closed"), pc.connectionState
            assert loop.time() < deadline, f"not connected: {pc.connectionState}"
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        for pc in [self.pc, *self.recorder_pcs]:
            if pc is not None:
                await pc.close()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


async def join_and_call(a: Member, b: Member) -> None:
    """Both members connect and join the room; `a` calls `b`."""
    await a.connect()
    await b.connect()
    await a.expect_type(msg.Joined)
    await b.expect_type(msg.Joined)
    await asyncio.gather(a.call(), b.answer_call())


async def ask_and_grant(a: Member, b: Member) -> None:
    """`a` asks to record and consents, then `b` consents (the second grant starts the recording)."""
    await a.send(msg.ConsentRequest())
    await a.send(msg.ConsentGrant())
    await b.expect_type(msg.RecordingState, phase="requested", granted=[a.user_id])
    await b.send(msg.ConsentGrant())


async def recorder_connected(*members: Member) -> None:
    """Each member told "recording", and the recorder's peer connection to each of them is up."""
    for m in members:
        await m.expect_type(msg.RecordingState, phase="recording")
    for m in members:
        for _ in range(500):
            if m.recorder_pcs:
                break
            await asyncio.sleep(0.02)
        await m.wait_connected(m.recorder_pcs[0])


def add_candidate(pc: RTCPeerConnection, frame: msg.RelayedIceCandidate) -> Any:
    cand: RTCIceCandidate = candidate_from_sdp(frame.candidate.split(":", 1)[-1])
    cand.sdpMid, cand.sdpMLineIndex = frame.sdp_mid, frame.sdp_mline_index
    return pc.addIceCandidate(cand)


def length_s(data: bytes) -> float | None:
    """The container's own duration in seconds (None when the file does not say, as a live WebM)."""
    with av.open(io.BytesIO(data)) as container:
        return None if container.duration is None else container.duration / 1e6


def decode(data: bytes) -> dict[str, dict[str, Any]]:
    """Per stream title: decoded frames, keyframes, decode errors, duration (first to last frame, seconds)."""
    out: dict[str, dict[str, Any]] = {}
    with av.open(io.BytesIO(data)) as container:
        streams = {s.index: s for s in container.streams}
        for s in streams.values():
            out[s.metadata.get("title", str(s.index))] = {"frames": 0, "errors": 0, "first": None, "last": None,
                                                          "keyframes": 0}
        for packet in container.demux():
            if packet.size == 0:
                continue
            entry = out[streams[packet.stream.index].metadata.get("title", str(packet.stream.index))]
            try:
                frames = packet.decode()
            except av.FFmpegError:
                entry["errors"] += 1
                continue
            entry["frames"] += len(frames)
            entry["keyframes"] += int(packet.is_keyframe)
            seconds = float(packet.pts * packet.time_base)
            entry["first"] = seconds if entry["first"] is None else entry["first"]
            entry["last"] = seconds
    for entry in out.values():
        entry["duration"] = (entry["last"] or 0) - (entry["first"] or 0)
    return out
