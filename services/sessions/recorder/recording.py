"""One two-party recording: an extra aiortc peer per member (signalled as "recorder" over the room),
receiving their encoded audio and video, muxed into one WebM streamed to the recording sink.

It exists only while consent holds: it is created after the "started" transition and stopped as soon
as the room's state says the recording id is no longer current (revoke, disconnect, pairing end).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from services.sessions.adapters.sink import STORAGE_UNAVAILABLE, RecordingMeta, RecordingSink, Upload
from services.sessions.config import Settings
from services.sessions.consent import machine as cm
from services.sessions.consent.service import ConsentStore
from services.sessions.meetings.rooms import Room
from services.sessions.recorder.muxer import WebmMuxer
from services.sessions.recorder.passthrough import is_vp8_keyframe, tap
from services.sessions.signalling import messages as msg
from services.sessions.signalling.hub import RECORDER, Hub
from services.sessions.signalling.service import publish_state
from services.sessions.signalling.turn import ice_servers, recorder_ttl_s
from shared.clock import utcnow
from shared.events import Event
from shared.events import types as t
from shared.logging import get_logger
from shared.outbox import Outbox
from shared.service import Runtime

log = get_logger("tandem.sessions.recorder")
PLI_INTERVAL_S = 0.3


@dataclass(eq=False, kw_only=True)
class Recording:
    room: Room
    recording_id: str
    hub: Hub
    sink: RecordingSink
    consent: ConsentStore
    outbox: Outbox | None
    engine: Any
    ice_servers: list[RTCIceServer]
    on_finished: Callable[[str], None]
    connect_timeout_s: float = 20.0
    keyframe_s: float = 0.0  # ask for a keyframe when a member's last one is older (0: only when lost)
    pcs: dict[str, RTCPeerConnection] = field(init=False, default_factory=dict)
    upload: Upload | None = field(init=False, default=None)
    muxer: WebmMuxer | None = field(init=False, default=None)
    record_id: str | None = field(init=False, default=None)
    stop_reason: str | None = field(init=False, default=None)
    stopped_at: float | None = field(init=False, default=None)
    done: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _last_pli: dict[str, float] = field(init=False, default_factory=dict)
    _last_key: dict[str, float] = field(init=False, default_factory=dict)
    _stopping: bool = field(init=False, default=False)
    _tasks: set[asyncio.Task[Any]] = field(init=False, default_factory=set)
    _watch: asyncio.Future[None] | None = field(init=False, default=None)

    # -- start ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        evidence = await self.consent.ledger(self.room.session_id, self.recording_id)
        meta = RecordingMeta(session_id=self.room.session_id, pairing_id=self.room.pairing_id,
                             recording_id=self.recording_id, started_at=utcnow(),
                             consent_evidence=evidence)
        self.upload = await self.sink.open(meta)
        if hasattr(self.upload, "on_failure"):
            self.upload.on_failure = self._sink_failed
        self.muxer = WebmMuxer(self.room.members, self._chunk)
        await self.hub.attach_recorder(self.room.session_id, self)
        try:
            for member in self.room.members:
                await self._offer(member)
        except Exception:
            await self.stop("failed")
            raise
        self._watch = asyncio.ensure_future(self._watchdog())
        await self._event(t.RecordingStarted(session_id=self.room.session_id, pairing_id=self.room.pairing_id,
                                             recording_id=self.recording_id))
        log.info("recording.started", session_id=self.room.session_id, recording_id=self.recording_id)

    async def _offer(self, member: str) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        self.pcs[member] = pc
        for kind in ("audio", "video"):
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            receiver = transceiver.receiver
            tap(receiver, kind, self._on_frame(member, kind, receiver))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "failed" and not self._stopping:
                log.warning("recording.peer_failed", recording_id=self.recording_id, member=member)
                self._spawn(self.stop("failed"))

        await pc.setLocalDescription(await pc.createOffer())
        offer = msg.RelayedOffer(sdp=pc.localDescription.sdp, source="recorder")
        await self.hub.send(self.room, member, msg.encode(offer), frm=RECORDER)

    async def _watchdog(self) -> None:
        """Both members' recorder peers must connect in time; otherwise nobody should be shown
        "recording" while nothing is captured."""
        await asyncio.sleep(self.connect_timeout_s)
        if not self._stopping and any(pc.connectionState != "connected" for pc in self.pcs.values()):
            log.warning("recording.peers_not_connected", recording_id=self.recording_id)
            await self.stop("failed")

    # -- media ------------------------------------------------------------------------------------------

    def _on_frame(self, member: str, kind: str, receiver: Any) -> Callable[[Any, Any], None]:
        def on_frame(_codec: Any, frame: Any) -> None:
            self._frame(member, kind, receiver, frame)

        return on_frame

    def _frame(self, member: str, kind: str, receiver: Any, frame: Any) -> None:
        """On the event loop, inside aiortc's RTP handler: mux inline (cheap), never block."""
        if self.muxer is None or self.stopped_at is not None:
            return
        intact = getattr(frame, "intact", True) and getattr(frame, "follows", True)
        try:
            ok = self.muxer.add(member, kind, frame.data, frame.timestamp, intact=intact)
        except Exception as exc:  # noqa: BLE001 - surface muxer failures: stop rather than record garbage
            log.error("recording.mux_failed", recording_id=self.recording_id, exc_type=type(exc).__name__)
            self._spawn(self.stop("mux-failed"))
            return
        if kind != "video":
            return
        now = time.monotonic()
        if ok and is_vp8_keyframe(frame.data):
            self._last_key[member] = now
        # A lost keyframe is asked for at once; a regular one keeps seeking in the recording short.
        due = not ok or (self.keyframe_s > 0 and now - self._last_key.get(member, now) >= self.keyframe_s)
        if due and now - self._last_pli.get(member, 0.0) >= PLI_INTERVAL_S and hasattr(frame, "ssrc"):
            self._last_pli[member] = now
            self._spawn(receiver._send_rtcp_pli(frame.ssrc))

    def _chunk(self, chunk: bytes) -> None:
        if self.upload is not None:
            self.upload.write(chunk)
            failed = getattr(self.upload, "failed", None)
            if failed and not self._stopping:
                log.warning("recording.sink_failed", recording_id=self.recording_id, code=failed)
                self._spawn(self.stop("failed"))

    def _sink_failed(self, code: str) -> None:
        if not self._stopping:
            log.warning("recording.sink_failed", recording_id=self.recording_id, code=code)
            self._close_intake()
            self._spawn(self.stop(code if code == STORAGE_UNAVAILABLE else "failed"))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- signalling (RecorderEndpoint) ---------------------------------------------------------------------

    async def on_signal(self, user_id: str, frame: bytes) -> None:
        pc = self.pcs.get(user_id)
        if pc is None or self._stopping:
            return
        try:
            message = msg.decode_server(frame)
            if isinstance(message, msg.RelayedAnswer):
                await pc.setRemoteDescription(RTCSessionDescription(message.sdp, "answer"))
            elif isinstance(message, msg.RelayedIceCandidate) and message.candidate:
                cand = candidate_from_sdp(message.candidate.split(":", 1)[-1])
                cand.sdpMid, cand.sdpMLineIndex = message.sdp_mid, message.sdp_mline_index
                await pc.addIceCandidate(cand)
        except Exception as exc:  # noqa: BLE001 - a bad answer from one client must not crash the room
            log.warning("recording.bad_signal", recording_id=self.recording_id, exc_type=type(exc).__name__)

    async def on_state(self, recording_id: str | None) -> None:
        if recording_id != self.recording_id and not self._stopping:
            # The hub calls this before it tells the members: no frame is taken once they see "stopped".
            self._close_intake()
            self._spawn(self.stop("consent"))

    def _close_intake(self) -> None:
        if self.stopped_at is None:
            self.stopped_at = time.monotonic()

    # -- stop ---------------------------------------------------------------------------------------------

    async def stop(self, reason: str) -> None:
        """Stop taking media at once, then finalise the file and hand it to the sink."""
        if self._stopping:
            await self.done.wait()
            return
        self._stopping = True
        self._close_intake()
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        try:
            await self.hub.detach_recorder(self.room.session_id, self)
            await asyncio.gather(*(pc.close() for pc in self.pcs.values()), return_exceptions=True)
            if self.muxer is not None:
                self.muxer.close()
            if reason == "consent":
                reason = await self._ledger_reason()
            else:
                # Stopped from this side (failure, shutdown): the consent state must say so too,
                # or both members would still be shown "recording".
                # The ledger says why (e.g. `storage_unavailable`): it is the recording's evidence.
                before, after, _ = await self.consent.transition(self.room.session_id, self.room.members,
                                                                 cm.Stop(reason if reason == STORAGE_UNAVAILABLE
                                                                         else "failed"))
                await publish_state(self.hub, self.room, before, after)
                if reason == STORAGE_UNAVAILABLE:
                    await self.hub.broadcast(self.room, msg.encode(msg.Error(
                        reason="recording-unavailable",
                        detail="the recording could not be stored (storage unavailable); nothing was kept")))
            self.stop_reason = reason
            if self.upload is not None:
                # Keep every consented second that was muxed cleanly (also on shutdown); discard only a
                # file that may be corrupt (muxer error) or a body the sink already lost.
                if reason == "mux-failed" or getattr(self.upload, "failed", None):
                    await self.upload.abort()
                else:
                    self.record_id = await self.upload.finish()
        except Exception as exc:  # noqa: BLE001 - the sink failed: say so in the event and the log
            log.error("recording.finalise_failed", recording_id=self.recording_id, exc_type=type(exc).__name__)
            self.stop_reason = "failed"
            if self.upload is not None:
                with contextlib.suppress(Exception):
                    await self.upload.abort()
        finally:
            stats = {k: (s.received, s.muxed) for k, s in self.muxer.stats().items()} if self.muxer else {}
            log.info("recording.stopped", session_id=self.room.session_id, recording_id=self.recording_id,
                     reason=self.stop_reason, record_id=self.record_id, frames=str(stats))
            with contextlib.suppress(Exception):
                await self._event(t.RecordingStopped(session_id=self.room.session_id,
                                                     pairing_id=self.room.pairing_id,
                                                     recording_id=self.recording_id,
                                                     reason=_event_reason(self.stop_reason),
                                                     record_id=self.record_id,
                                                     ledger=await self._ledger_after_start()))
            self.on_finished(self.recording_id)
            self.done.set()

    async def _ledger_after_start(self) -> tuple[t.ConsentLine, ...]:
        """The consent lines that ended this recording (records completes its evidence with them)."""
        entries = await self.consent.ledger(self.room.session_id, self.recording_id)
        start = next((i for i, e in enumerate(entries) if e["kind"] == "started"), len(entries))
        return tuple(t.ConsentLine(seq=int(str(e["seq"])), kind=str(e["kind"]), actor=str(e["actor"]),
                                   at=datetime.fromisoformat(str(e["at"])),
                                   reason=str(e["reason"]) if e.get("reason") else None)
                     for e in entries[start + 1:])

    async def _ledger_reason(self) -> str:
        entries = await self.consent.ledger(self.room.session_id, self.recording_id)
        last = entries[-1] if entries else {}
        reason = last.get("reason") if last.get("kind") == "stopped" else None
        known = ("revoked", "disconnected", "ended", "failed", *cm.PROGRAMME_REASONS)
        return str(reason) if reason in known else "revoked"

    async def _event(self, payload: Event) -> None:
        if self.outbox is None:
            return
        async with self.engine.begin() as conn:
            await self.outbox.add(conn, payload, subject=f"session:{self.room.session_id}")


def _event_reason(reason: str | None) -> str:
    return reason if reason in ("revoked", "ended", "disconnected", STORAGE_UNAVAILABLE,
                                *cm.PROGRAMME_REASONS) else "failed"


Starter = Callable[[Room, str, Callable[[str], None]], Awaitable[Recording]]


def starter(runtime: Runtime, settings: Settings, hub: Hub, consent: ConsentStore, sink: RecordingSink) -> Starter:
    """How this instance starts a recording (`Recorders`' factory): the recorder's own TURN credential
    lasts while the room can be open (it has no renewal)."""
    async def start(room: Room, recording_id: str, finished: Callable[[str], None]) -> Recording:
        servers = [RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
                   for s in ice_servers(settings.ice_urls, settings.turn_secret, "recorder", time.time(),
                                        recorder_ttl_s(settings.turn_ttl_s, room.ends_at, settings.room_close_after_s,
                                                       utcnow()))]
        recording = Recording(room=room, recording_id=recording_id, hub=hub, sink=sink, consent=consent,
                              outbox=runtime.outbox, engine=runtime.engine, ice_servers=servers,
                              on_finished=finished, keyframe_s=settings.recording_keyframe_s)
        await recording.start()
        return recording

    return start
