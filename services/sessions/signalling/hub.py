"""Rooms across instances: the local sockets of this instance, and Redis pub/sub between instances.

Each room has a channel `tandem:sessions:room:<session id>`; an instance subscribes while it holds a
socket (or a recorder) of that room. A frame for a member goes straight to the socket when it is held
here, otherwise through the channel; broadcasts always go through the channel. Presence
(`tandem:sessions:presence:<session id>`, member → connection) lets a member on another instance, or
a reconnecting one, find their place. A control channel carries "close every socket of user X /
pairing Y" to every instance (suspension, pairing end).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import msgspec
from redis.asyncio import Redis

from services.sessions.meetings.rooms import Room
from services.sessions.signalling.ending import PEER_REASON, Cause, cause_of
from services.sessions.signalling.messages import PeerLeft, encode
from shared.clock import EpochClock
from shared.logging import get_logger
from shared.tasks import cancel

log = get_logger("tandem.sessions.hub")

ROOM = "tandem:sessions:room:"
PRESENCE = "tandem:sessions:presence:"
CONTROL = "tandem:sessions:control"
RECORDER = "recorder"
PRESENCE_TTL_S = 12 * 3600
ALIVE = "tandem:sessions:alive:"
ALIVE_TTL_S = 15
HEARTBEAT_S = 5.0
OUTBOX_LIMIT = 256


class Routed(msgspec.Struct, frozen=True):
    """A frame on a room channel: for `to` (a member id, "*" or "recorder"), from `frm`."""

    to: str
    frm: str
    frame: msgspec.Raw
    kind: Literal["frame", "state"] = "frame"


class Control(msgspec.Struct, frozen=True):
    """`close-user` (target: a user; the call ends for them and for the other member of each of their
    rooms), `close-pairing`, `end-room` (target: a session, ended because of `member`), `kick` (one
    connection)."""

    kind: Literal["close-user", "close-pairing", "end-room", "kick"]
    target: str
    reason: str
    member: str | None = None


class Presence(msgspec.Struct, frozen=True):
    conn: str
    state: Literal["here", "away"]
    since: float


_routed = msgspec.json.Decoder(Routed)
_control = msgspec.json.Decoder(Control)
_presence = msgspec.json.Decoder(Presence)
_enc = msgspec.json.Encoder()


class RecorderEndpoint(Protocol):
    """The server-side recorder of a room, addressed as "recorder" by the members' clients."""

    async def on_signal(self, user_id: str, frame: bytes) -> None: ...

    async def on_state(self, recording_id: str | None) -> None: ...


@dataclass(eq=False)
class Conn:
    """One member's socket on this instance. Frames are queued and written by the socket's own task,
    so one slow client never holds up the others."""

    user_id: str
    room: Room
    close: Callable[[int, str], Awaitable[None]]
    conn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(OUTBOX_LIMIT))
    closing: str | None = None
    cause: Cause | None = None  # set when the programme ended the call (not a mere close)

    def push(self, frame: bytes) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.kick("slow-consumer")

    def kick(self, reason: str, cause: Cause | None = None) -> None:
        if self.closing is None:
            self.closing = reason
            self.cause = cause
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


class Hub:
    def __init__(self, redis: Redis, *, grace_s: float, clock: EpochClock = time.time) -> None:
        self.redis = redis
        self.grace_s = grace_s
        self.clock = clock
        self.rooms: dict[str, dict[str, Conn]] = {}  # session id → user id → conn
        self.recorders: dict[str, RecorderEndpoint] = {}
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._beat: asyncio.Task[None] | None = None
        self._subscribed: set[str] = set()
        self._grace_tasks: set[asyncio.Task[None]] = set()
        self.on_state: list[Callable[[str, str | None], Awaitable[None]]] = []

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._task = asyncio.create_task(self._listen(), name="sessions-hub")
        self._beat = asyncio.create_task(self._heartbeat(), name="sessions-hub-heartbeat")

    async def stop(self) -> None:
        for room in list(self.rooms.values()):
            for conn in list(room.values()):
                conn.kick("shutdown")
        for task in list(self._grace_tasks):
            task.cancel()
        await cancel(self._task, self._beat)
        if self._pubsub is not None:
            await self._pubsub.aclose()

    async def _listen(self) -> None:
        # Subscribe here, not in start(): the service must come up (and report unready) while Redis is down.
        backoff = 0.1
        while True:
            try:
                await self._pubsub.subscribe(CONTROL)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis unreachable: retry with backoff
                log.warning("hub.subscribe_failed", exc_type=type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis hiccup: keep listening, the client reconnects
                log.warning("hub.listen_failed", exc_type=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            try:
                if channel == CONTROL:
                    await self._on_control(_control.decode(message["data"]))
                elif channel.startswith(ROOM):
                    await self._deliver_local(channel[len(ROOM):], _routed.decode(message["data"]))
            except (msgspec.DecodeError, msgspec.ValidationError):
                log.warning("hub.bad_message", channel=channel)
            except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the listener
                log.error("hub.delivery_failed", exc_type=type(exc).__name__)

    async def _ensure_subscribed(self, session_id: str) -> None:
        if session_id not in self._subscribed:
            self._subscribed.add(session_id)
            await self._pubsub.subscribe(ROOM + session_id)

    async def _maybe_unsubscribe(self, session_id: str) -> None:
        if session_id in self._subscribed and not self.rooms.get(session_id) and session_id not in self.recorders:
            self._subscribed.discard(session_id)
            self.rooms.pop(session_id, None)
            await self._pubsub.unsubscribe(ROOM + session_id)

    # -- membership ---------------------------------------------------------------------------------

    async def register(self, conn: Conn) -> tuple[bool, bool]:
        """Add a socket; returns (resumed, peer_present). A previous socket of the same member is closed."""
        sid, uid = conn.room.session_id, conn.user_id
        await self._ensure_subscribed(sid)
        previous = self.rooms.setdefault(sid, {}).get(uid)
        self.rooms[sid][uid] = conn
        key = PRESENCE + sid
        peer = self.peer_of(conn.room, uid)
        now = self.clock()
        await self.redis.set(ALIVE + conn.conn_id, b"1", ex=ALIVE_TTL_S)
        # One transaction: of two members joining at once (here or on another instance), exactly one
        # sees the other present, so exactly one of them sends the offer.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, uid)
            pipe.hset(key, uid, _enc.encode(Presence(conn.conn_id, "here", now)))
            pipe.expire(key, PRESENCE_TTL_S)
            pipe.hget(key, peer)
            old_raw, _, _, peer_raw = await pipe.execute()
        resumed = False
        if old_raw:
            old = _presence.decode(old_raw)
            resumed = old.state == "here" or now - old.since <= self.grace_s
            if old.conn != conn.conn_id:
                if previous is not None and previous.conn_id == old.conn:
                    previous.kick("replaced")
                else:
                    await self._publish_control(Control("kick", old.conn, "replaced"))
        peer_present = False
        if peer_raw:
            p = _presence.decode(peer_raw)
            peer_present = p.state == "here" or now - p.since <= self.grace_s
        return resumed, peer_present

    async def unregister(self, conn: Conn, *, left: bool) -> bool:
        """Remove a socket; returns whether it still held the member's place (it was not replaced)."""
        sid, uid = conn.room.session_id, conn.user_id
        room = self.rooms.get(sid, {})
        if room.get(uid) is conn:
            del room[uid]
        key = PRESENCE + sid
        await self.redis.delete(ALIVE + conn.conn_id)
        raw = await self.redis.hget(key, uid)
        holder = raw is not None and _presence.decode(raw).conn == conn.conn_id
        if holder:
            if left or self.grace_s == 0:
                await self.redis.hdel(key, uid)
            else:
                await self.redis.hset(key, uid, _enc.encode(Presence(conn.conn_id, "away", self.clock())))
                task = asyncio.create_task(self._grace(conn))
                self._grace_tasks.add(task)
                task.add_done_callback(self._grace_tasks.discard)
        await self._maybe_unsubscribe(sid)
        return holder

    async def _grace(self, conn: Conn) -> None:
        await asyncio.sleep(self.grace_s)
        key = PRESENCE + conn.room.session_id
        raw = await self.redis.hget(key, conn.user_id)
        if raw is not None and _presence.decode(raw).conn == conn.conn_id:
            await self.redis.hdel(key, conn.user_id)
            await self.send(conn.room, self.peer_of(conn.room, conn.user_id), encode(PeerLeft()), frm=conn.user_id)

    @staticmethod
    def peer_of(room: Room, user_id: str) -> str:
        return room.members[1] if room.members[0] == user_id else room.members[0]

    # -- routing ------------------------------------------------------------------------------------

    async def send(self, room: Room, to: str, frame: bytes, *, frm: str) -> None:
        """Deliver `frame` to member `to` (or RECORDER) of `room`, wherever they are connected."""
        sid = room.session_id
        local = self.rooms.get(sid, {}).get(to)
        if local is not None:
            local.push(frame)
            return
        if to == RECORDER and sid in self.recorders:
            await self.recorders[sid].on_signal(frm, frame)
            return
        await self.redis.publish(ROOM + sid, _enc.encode(Routed(to, frm, msgspec.Raw(frame))))

    async def broadcast(self, room: Room, frame: bytes, *, frm: str = "system") -> None:
        await self.redis.publish(ROOM + room.session_id, _enc.encode(Routed("*", frm, msgspec.Raw(frame))))

    async def broadcast_state(self, room: Room, frame: bytes, recording_id: str | None) -> None:
        """Push the recording state to both members and tell whichever instance records (to stop it)."""
        await self.redis.publish(ROOM + room.session_id, _enc.encode(
            Routed("*", recording_id or "", msgspec.Raw(frame), kind="state")))

    async def _deliver_local(self, session_id: str, routed: Routed) -> None:
        room = self.rooms.get(session_id, {})
        frame = bytes(routed.frame)
        if routed.kind == "state":
            recorder = self.recorders.get(session_id)
            if recorder is not None:
                await recorder.on_state(routed.frm or None)
        if routed.to == "*":
            for conn in list(room.values()):
                conn.push(frame)
        elif routed.to == RECORDER:
            recorder = self.recorders.get(session_id)
            if recorder is not None:
                await recorder.on_signal(routed.frm, frame)
        elif (member := room.get(routed.to)) is not None:
            member.push(frame)

    # -- recorders ----------------------------------------------------------------------------------

    async def attach_recorder(self, session_id: str, recorder: RecorderEndpoint) -> None:
        self.recorders[session_id] = recorder
        await self._ensure_subscribed(session_id)

    async def detach_recorder(self, session_id: str, recorder: RecorderEndpoint) -> None:
        if self.recorders.get(session_id) is recorder:
            del self.recorders[session_id]
        await self._maybe_unsubscribe(session_id)

    # -- control ------------------------------------------------------------------------------------

    async def _publish_control(self, control: Control) -> None:
        await self.redis.publish(CONTROL, _enc.encode(control))

    async def close_user(self, user_id: str, reason: str = "suspended") -> None:
        """End every call of `user_id` (both members of each), on every instance."""
        await self._publish_control(Control("close-user", user_id, reason, user_id))

    async def close_pairing(self, pairing_id: str, reason: str = "pairing-ended") -> None:
        await self._publish_control(Control("close-pairing", pairing_id, reason))

    async def end_room(self, session_id: str, reason: str, member: str) -> None:
        """End one room's call because of `member` (their sign-in was revoked), on every instance."""
        await self._publish_control(Control("end-room", session_id, reason, member))

    async def _on_control(self, control: Control) -> None:
        for room in list(self.rooms.values()):
            for conn in list(room.values()):
                if control.kind == "kick":
                    if conn.conn_id == control.target:
                        conn.kick(control.reason)
                    continue
                hit = ((control.kind == "close-user" and control.target in conn.room.members)
                       or (control.kind == "close-pairing" and conn.room.pairing_id == control.target)
                       or (control.kind == "end-room" and conn.room.session_id == control.target))
                if not hit:
                    continue
                cause = cause_of(control.reason, control.member)
                if control.member is not None and conn.user_id != control.member:
                    conn.kick(PEER_REASON, cause)  # the other member is not told why
                else:
                    conn.kick(control.reason, cause)

    async def _heartbeat(self) -> None:
        """Keep `alive:<conn>` keys of this instance's sockets fresh; if the instance dies they expire,
        so a member whose socket died with it is not taken for present (and consenting)."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                conns = [c for room in self.rooms.values() for c in room.values()]
                if conns:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for conn in conns:
                            pipe.set(ALIVE + conn.conn_id, b"1", ex=ALIVE_TTL_S)
                        await pipe.execute()
            except Exception as exc:  # noqa: BLE001 - Redis hiccup: the next beat retries
                log.warning("hub.heartbeat_failed", exc_type=type(exc).__name__)

    async def member_live(self, session_id: str, user_id: str) -> bool:
        """Whether the member holds a live socket of the room on some instance right now."""
        raw = await self.redis.hget(PRESENCE + session_id, user_id)
        if raw is None:
            return False
        presence = _presence.decode(raw)
        return presence.state == "here" and bool(await self.redis.exists(ALIVE + presence.conn))

    def local_sockets(self) -> int:
        return sum(len(r) for r in self.rooms.values())
