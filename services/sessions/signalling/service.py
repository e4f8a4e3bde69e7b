"""One member's signalling socket, from `join` to close: admission, relaying SDP and ICE to the other
member (or the recorder), consent frames, TURN renewal, and how the call ends. The route is in
controllers.py; `Signalling` holds what every socket of this instance works with."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from services.sessions.config import Settings
from services.sessions.consent import machine as cm
from services.sessions.consent.service import ConsentStore
from services.sessions.meetings.rooms import Room, RoomRefused, admit
from services.sessions.signalling import messages as msg
from services.sessions.signalling.ending import (
    ENDED_CLOSE_CODES,
    OTHER_MEMBER_REASON,
    PEER_REASON,
    REVOKED_CLOSE_CODE,
    Cause,
    cause_of,
    revoked_reason,
)
from services.sessions.signalling.hub import RECORDER, Conn, Hub
from services.sessions.signalling.turn import ice_servers
from services.sessions.users.service import get_user
from shared.clock import utcnow
from shared.http import identity_of
from shared.logging import get_logger
from shared.service import Runtime

log = get_logger("tandem.sessions.signal")

CLOSE_CODES = {**ENDED_CLOSE_CODES, "replaced": 4409, "slow-consumer": 4408, "shutdown": 1001, "left": 1000,
               "rate-limited": 4429}


class RecorderPool(Protocol):
    """What signalling asks of this instance's recorders (recorder/manager.py)."""

    def can_start(self) -> bool: ...

    async def start(self, room: Room, recording_id: str) -> None: ...


@dataclass(frozen=True)
class Signalling:
    """What every signalling socket of this instance works with."""

    runtime: Runtime
    settings: Settings
    hub: Hub
    consent: ConsentStore
    recorders: RecorderPool

    async def serve(self, socket: WebSocket[Any, Any, Any], session_id: str) -> None:
        await Signaller(socket, self, session_id).run()

    async def start_recording(self, room: Room, recording_id: str) -> None:
        """Start the recorder here; if it cannot start, stop the round at once and say so."""
        try:
            await self.recorders.start(room, recording_id)
        except Exception as exc:  # noqa: BLE001 - any failure: the recording must not silently "run"
            log.warning("recording.start_failed", session_id=room.session_id, recording_id=recording_id,
                        exc_type=type(exc).__name__)
            before, after, _ = await self.consent.transition(room.session_id, room.members, cm.Stop("unavailable"))
            await publish_state(self.hub, room, before, after)
            await self.hub.broadcast(room, msg.encode(msg.Error(reason="recording-unavailable",
                                                                detail="the recorder could not start")))


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def state_frame(state: cm.ConsentState) -> msg.RecordingState:
    return msg.RecordingState(phase=state.phase, requested_by=state.requested_by, granted=list(state.granted),
                              recording_id=state.recording_id)


class Signaller:
    """One member's socket, from join to close."""

    def __init__(self, socket: WebSocket[Any, Any, Any], signalling: Signalling, session_id: str) -> None:
        self.socket = socket
        self.signalling = signalling
        self.runtime = signalling.runtime
        self.settings = settings = signalling.settings
        self.session_id = session_id
        self.user_id = identity_of(socket).sub
        self.hub = signalling.hub
        self.consent = signalling.consent
        self.recorders = signalling.recorders
        self.limiter = TokenBucket(settings.ws_rate_per_s, settings.ws_burst)
        self.conn: Conn | None = None
        self.room: Room | None = None
        self.left = False
        self.close_code: int | None = None  # how the other side closed the socket (the gateway, the client)
        self.close_reason = ""

    async def send_now(self, frame: Any) -> None:
        await self.socket.send_text(msg.encode(frame).decode())

    def push(self, frame: Any) -> None:
        if self.conn is not None:
            self.conn.push(msg.encode(frame))

    async def run(self) -> None:
        await self.socket.accept()
        writer: asyncio.Task[None] | None = None
        renewer: asyncio.Task[None] | None = None
        try:
            while True:
                raw = await self._receive()
                if raw is None:
                    break
                if not self.limiter.take():
                    await self._error("rate-limited", "slow down")
                    continue
                try:
                    message = msg.decode_client(raw, self.settings.ws_max_message_bytes)
                except msg.BadFrame as bad:
                    await self._error(bad.reason, bad.detail)
                    continue
                if self.conn is None:
                    if not isinstance(message, msg.Join):
                        await self.send_now(msg.Error(reason="join-first", detail="send a join frame first"))
                        continue
                    if not await self._join():
                        return
                    assert self.conn is not None  # noqa: S101 - set by _join
                    writer = asyncio.create_task(self._write(self.conn))
                    renewer = asyncio.create_task(self._renew(self.conn))
                    continue
                if self.conn.closing:
                    break
                await self._dispatch(message)
                if self.left:
                    break
        except WebSocketDisconnect:
            pass
        finally:
            if renewer is not None:
                renewer.cancel()
            if self.conn is not None:
                await self._closed(self.conn)
                self.conn.kick(self.conn.closing or "left")
            if writer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer, 2.0)

    async def _receive(self) -> str | bytes | None:
        message = await self.socket.receive()
        if message["type"] == "websocket.disconnect":
            self.close_code = message.get("code")
            self.close_reason = str(message.get("reason") or "")
            return None
        text = message.get("text")
        if isinstance(text, str):
            return text
        data = message.get("bytes")
        return data if isinstance(data, bytes) else b""

    async def _error(self, reason: str, detail: str = "") -> None:
        frame = msg.Error(reason=reason, detail=detail)
        if self.conn is not None:
            self.push(frame)
        else:
            await self.send_now(frame)

    async def _write(self, conn: Conn) -> None:
        """Write queued frames; on a kick, tell the client why and close the socket."""
        try:
            while True:
                frame = await conn.queue.get()
                if frame is None:
                    break
                await self.socket.send_text(frame.decode())
            reason = conn.closing or "left"
            if reason in ENDED_CLOSE_CODES:
                # Said before the close, so the client acts on it (ends its media) and never reconnects.
                await self.send_now(msg.CallEnded(reason=reason))
            elif reason != "left":
                await self.send_now(msg.Closing(reason=reason))
            await self.socket.close(code=CLOSE_CODES.get(reason, 4000), reason=reason)
        except Exception as exc:  # noqa: BLE001 - the client went away mid-write: the reader sees it
            log.debug("signal.write_failed", exc_type=type(exc).__name__)

    async def _join(self) -> bool:
        now = utcnow()
        try:
            async with self.runtime.engine.connect() as conn:
                room = await admit(conn, self.user_id, self.session_id, now,
                                   timedelta(seconds=self.settings.room_open_before_s),
                                   timedelta(seconds=self.settings.room_close_after_s))
        except RoomRefused as refused:
            log.info("signal.join_refused", session_id=self.session_id, user_id=self.user_id, code=refused.code)
            with contextlib.suppress(Exception):  # the audit stream being down must not keep the socket open
                await self.runtime.auditor(self.user_id, "session.join", f"session:{self.session_id}", "denied",
                                           reason=refused.code)
            await self.send_now(msg.Error(reason=refused.code))
            await self.socket.close(code=4403 if refused.code != "not-found" else 4404, reason=refused.code)
            return False
        self.room = room
        self.conn = Conn(self.user_id, room, self._close)
        # The room closes at the scheduled end plus the overrun allowance: the socket goes with it.
        closes_in = (room.ends_at + timedelta(seconds=self.settings.room_close_after_s) - now).total_seconds()
        asyncio.get_running_loop().call_later(max(closes_in, 0.0), self.conn.kick, "room-closed",
                                              cause_of("room-closed"))
        resumed, peer_present = await self.hub.register(self.conn)
        _, state, _ = await self.consent.transition(room.session_id, room.members, cm.Connect(self.user_id))
        self.push(msg.Joined(session_id=room.session_id, user_id=self.user_id, ice_servers=self._ice_servers(),
                             peer_present=peer_present, resumed=resumed, recording=state_frame(state)))
        await self.hub.send(room, self.hub.peer_of(room, self.user_id), msg.encode(msg.PeerJoined(resumed=resumed)),
                            frm=self.user_id)
        log.info("signal.joined", session_id=room.session_id, user_id=self.user_id, resumed=resumed)
        return True

    def _ice_servers(self) -> list[msg.IceServer]:
        return ice_servers(self.settings.ice_urls, self.settings.turn_secret, self.user_id, time.time(),
                           self.settings.turn_ttl_s)

    async def _renew(self, conn: Conn) -> None:
        """Re-check admission on a timer and hand out fresh TURN credentials only while it holds: a
        suspended member, an ended pairing or a closed room gets none, and the call ends."""
        every = self.settings.turn_renew_s or self.settings.turn_ttl_s / 2
        has_turn = any(u.startswith("turn") for u in self.settings.ice_urls)
        while conn.closing is None:
            await asyncio.sleep(every)
            if conn.closing is not None:
                return
            try:
                async with self.runtime.engine.connect() as db:
                    await admit(db, self.user_id, self.session_id, utcnow(),
                                timedelta(seconds=self.settings.room_open_before_s),
                                timedelta(seconds=self.settings.room_close_after_s))
            except RoomRefused as refused:
                log.info("signal.renewal_refused", session_id=self.session_id, user_id=self.user_id,
                         code=refused.code)
                try:
                    await self._end_refused(conn, refused.code)
                except Exception as exc:  # noqa: BLE001 - Redis away: at least this socket's call ends
                    log.warning("signal.end_failed", exc_type=type(exc).__name__)
                    conn.kick(PEER_REASON, Cause("ended"))
                return
            except Exception as exc:  # noqa: BLE001 - database away: no renewal this time, try again later
                log.warning("signal.renewal_failed", exc_type=type(exc).__name__)
                continue
            if has_turn:
                self.push(msg.IceServersRenewed(ice_servers=self._ice_servers()))

    async def _end_refused(self, conn: Conn, code: str) -> None:
        if code == "suspended":
            await self.hub.close_user(self.user_id)
        elif code == "pairing-not-active":
            await self.hub.close_pairing(conn.room.pairing_id)
        elif code == "room-closed":
            conn.kick("room-closed", cause_of("room-closed"))
        else:
            conn.kick(PEER_REASON, Cause("session_cancelled" if code == "session-cancelled" else "ended"))

    async def _close(self, code: int, reason: str) -> None:
        await self.socket.close(code=code, reason=reason)

    async def _dispatch(self, message: msg.ClientMessage) -> None:
        assert self.room is not None  # noqa: S101 - joined
        room = self.room
        match message:
            case msg.Offer() | msg.Answer() | msg.IceCandidate() | msg.IceRestart():
                target = getattr(message, "target", "peer")
                if target == "recorder":
                    state = await self.consent.state(room.session_id, room.members)
                    if state.recording_id is None:
                        # Nothing may reach a recorder unless both consented: say so, do not forward.
                        await self._error("not-recording", "there is no recorder in this room now")
                        return
                to = RECORDER if target == "recorder" else self.hub.peer_of(room, self.user_id)
                await self.hub.send(room, to, msg.encode(msg.relay_of(message)), frm=self.user_id)
            case msg.ConsentRequest():
                await self.consent_event(cm.Request(self.user_id))
            case msg.ConsentGrant():
                await self.consent_event(cm.Grant(self.user_id))
            case msg.ConsentRevoke():
                await self.consent_event(cm.Revoke(self.user_id))
            case msg.Leave():
                self.left = True
            case msg.Ping():
                self.push(msg.Pong())
            case msg.Join():
                await self._error("already-joined")

    async def consent_event(self, event: cm.Event) -> None:
        assert self.room is not None  # noqa: S101 - joined
        room = self.room
        current = await self.consent.state(room.session_id, room.members)
        peer = self.hub.peer_of(room, self.user_id)
        if peer in current.connected and not await self.hub.member_live(room.session_id, peer):
            # The peer's socket died with its instance (no close was seen): they are not present, so
            # they are not consenting. Record that before anything else.
            before, after, _ = await self.consent.transition(room.session_id, room.members, cm.Disconnect(peer))
            await publish_state(self.hub, room, before, after)
            current = after
        completes = isinstance(event, cm.Grant) and set(current.granted) | {event.actor} == set(room.members)
        if completes and not self.recorders.can_start():
            await self._error("recording-unavailable", "no recorder is available now; try again later")
            return
        try:
            before, after, entries = await self.consent.transition(room.session_id, room.members, event)
        except cm.ConsentError as err:
            await self._error(err.code)
            return
        await publish_state(self.hub, room, before, after)
        started = next((e.recording_id for e in entries if e.kind == "started"), None)
        if started:
            await self.signalling.start_recording(room, started)

    async def _closed(self, conn: Conn) -> None:
        room = conn.room
        try:
            cause, revoked = conn.cause, False
            if cause is None and self.close_code == REVOKED_CLOSE_CODE:
                # The gateway cut the socket: this member's sign-in was revoked. The call is over.
                revoked = True
                cause = Cause(revoked_reason(self.close_reason, await self._suspended()), self.user_id)
            holder = await self.hub.unregister(conn, left=self.left or cause is not None)
            if not holder:
                return  # replaced by a newer socket of the same member: their place is kept
            if cause is not None:
                if revoked:
                    await self.hub.end_room(room.session_id, "suspended" if cause.reason == "suspended"
                                            else "signed-out", self.user_id)
                await self._end_consent(room, cause)
                log.info("signal.ended", session_id=room.session_id, user_id=self.user_id, reason=cause.reason)
                return
            before, after, _ = await self.consent.transition(room.session_id, room.members,
                                                             cm.Disconnect(self.user_id))
            await publish_state(self.hub, room, before, after)
            peer = self.hub.peer_of(room, self.user_id)
            frame = msg.PeerLeft() if self.left else msg.PeerAway()
            await self.hub.send(room, peer, msg.encode(frame), frm=self.user_id)
            log.info("signal.closed", session_id=room.session_id, user_id=self.user_id, left=self.left,
                     reason=conn.closing)
        except Exception as exc:  # noqa: BLE001 - cleanup must not raise into the server
            log.error("signal.cleanup_failed", exc_type=type(exc).__name__)


    async def _suspended(self) -> bool:
        try:
            async with self.runtime.engine.connect() as db:
                user = await get_user(db, self.user_id)
        except Exception as exc:  # noqa: BLE001 - database away: the call still ends, as a sign-out
            log.warning("signal.projection_unavailable", exc_type=type(exc).__name__)
            return False
        return user is not None and user.suspended

    async def _end_consent(self, room: Room, cause: Cause) -> None:
        """The programme ended the call: the ledger names the cause (and whose it was), not `disconnected`."""
        first: cm.Event = cm.Stop(cause.reason) if cause.member is None else cm.Disconnect(cause.member,
                                                                                           cause.reason)
        before, after, _ = await self.consent.transition(room.session_id, room.members, first)
        await publish_state(self.hub, room, before, after)
        if cause.member != self.user_id:
            before, after, _ = await self.consent.transition(room.session_id, room.members,
                                                             cm.Disconnect(self.user_id, OTHER_MEMBER_REASON))
            await publish_state(self.hub, room, before, after)


async def publish_state(hub: Hub, room: Room, before: cm.ConsentState, after: cm.ConsentState) -> None:
    if (before.phase, before.requested_by, before.granted, before.recording_id) != (
            after.phase, after.requested_by, after.granted, after.recording_id):
        await hub.broadcast_state(room, msg.encode(state_frame(after)), after.recording_id)
