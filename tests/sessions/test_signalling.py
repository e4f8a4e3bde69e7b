"""Signalling through a real uvicorn server: two aiortc members connect; outsiders never join; bad
frames get error frames; suspension and pairing end cut sockets; a dropped member resumes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from redis.asyncio import Redis

from services.sessions.signalling import messages as msg
from services.sessions.signalling.turn import ice_servers, turn_credential
from shared.bus import RedisStreamBus
from shared.events import decode_envelope
from shared.events import types as t
from tests.support.calls import Member, Server, http, loopback_host_addresses, open_session, serve
from tests.support.identity import TestIssuer
from tests.support.sessions import (
    ADMIN,
    MENTEE,
    MENTOR,
    OTHER_MENTEE,
    OTHER_MENTOR,
    publish_users,
    sessions_settings,
    wait_projected,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def server(db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer) -> AsyncIterator[Server]:
    await publish_users(redis)
    settings = sessions_settings(db_url, redis_url, issuer, reconnect_grace_s=5.0,
                                 ws_rate_per_s=5.0, ws_burst=20, ws_max_message_bytes=40_000,
                                 ice_urls=("stun:stun.example.org:3478", "turn:turn.example.org:3478"),
                                 turn_secret="turn-test-secret")
    with loopback_host_addresses():
        async with serve(settings) as srv:
            await wait_projected(srv.app, OTHER_MENTOR, vetted=True)
            yield srv


def server_redis(server: Server) -> Redis:
    return server.app.state.runtime.redis  # type: ignore[no-any-return]


async def members(server: Server, issuer: TestIssuer) -> tuple[Member, Member, str, str]:
    pid, sid = await open_session(server.url, issuer, MENTOR, MENTEE)
    return Member(server, issuer, MENTOR, sid), Member(server, issuer, MENTEE, sid), pid, sid


async def test_two_members_connect_and_outsiders_cannot_join(server: Server, issuer: TestIssuer) -> None:
    a, b, _pid, sid = await members(server, issuer)
    await a.connect()
    joined = await a.expect_type(msg.Joined)
    assert joined.user_id == MENTOR and not joined.peer_present and joined.recording.phase == "idle"
    assert joined.ice_servers[0].urls == ["stun:stun.example.org:3478"]
    turn = joined.ice_servers[1]
    assert turn.username and turn.username.endswith(f":{MENTOR}") and turn.credential
    await b.connect()
    assert (await b.expect_type(msg.Joined)).peer_present
    await a.expect_type(msg.PeerJoined)
    await asyncio.gather(a.call(), b.answer_call())
    await asyncio.gather(a.wait_connected(), b.wait_connected())

    # Nobody else gets in: another pair's members, an admin.
    _p2, other_sid = await open_session(server.url, issuer, OTHER_MENTOR, OTHER_MENTEE)
    for who in (OTHER_MENTOR, OTHER_MENTEE, ADMIN):
        intruder = Member(server, issuer, who, sid)
        await intruder.connect()
        err = await intruder.expect_type(msg.Error)
        assert err.reason == "not-found"
        assert (await intruder.wait_closed())[0] == 4404
    denied = []
    for _i, fields in await server_redis(server).xrange("tandem.audit"):
        entry = decode_envelope(fields[b"envelope"]).payload(t.AuditEntry)
        if entry.action == "session.join":
            denied.append((entry.actor, entry.outcome, entry.target))
    assert {(who, "denied", f"session:{sid}") for who in (OTHER_MENTOR, OTHER_MENTEE, ADMIN)} <= set(denied)
    # A member of this pair cannot enter the other pair's room either.
    stray = Member(server, issuer, MENTOR, other_sid)
    await stray.connect()
    assert (await stray.expect_type(msg.Error)).reason == "not-found"
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{server.url}/metrics")).text
    assert "tandem_sessions_sockets 2.0" in metrics and "tandem_sessions_recordings 0.0" in metrics
    # The intruders' attempts reached neither member.
    await a.send(msg.Ping())
    await a.expect_type(msg.Pong)
    assert not [f for f in a.frames if isinstance(f, msg.PeerJoined | msg.PeerAway | msg.PeerLeft)]
    await a.close()
    await b.close()


async def test_room_opens_only_shortly_before_start(server: Server, issuer: TestIssuer) -> None:
    _pid, sid = await open_session(server.url, issuer, MENTOR, MENTEE, starts_in=timedelta(hours=2))
    early = Member(server, issuer, MENTOR, sid)
    await early.connect()
    assert (await early.expect_type(msg.Error)).reason == "room-not-open"
    assert (await early.wait_closed())[0] == 4403


async def test_bad_frames_get_error_frames_and_the_socket_stays(server: Server, issuer: TestIssuer) -> None:
    a, _b, _pid, _sid = await members(server, issuer)
    await a.connect(join=False)
    await a.send(msg.Ping())
    assert (await a.expect_type(msg.Error)).reason == "join-first"
    await a.send(msg.Join())
    await a.expect_type(msg.Joined)
    cases = {
        "malformed": "{not json",
        "invalid": '{"type": "offer"}',
        "invalid ": '{"type": "teleport"}',
        "invalid  ": '{"type": "ice-candidate", "candidate": "x", "sdp_mline_index": -1}',
        "invalid   ": '{"type": "join", "extra": 1}',
        "too-large": '{"type": "offer", "sdp": "' + "v" * 50_000 + '"}',
    }
    for reason, raw in cases.items():
        await a.send_raw(raw)
        err = await a.expect_type(msg.Error)
        assert err.reason == reason.strip(), (reason, err)
        assert "v" * 100 not in err.detail
    await a.send(msg.Join())
    assert (await a.expect_type(msg.Error)).reason == "already-joined"
    # Signalling meant for a recorder when nobody consented goes nowhere, and says so.
    await a.send(msg.Offer(sdp="v=0", target="recorder"))
    assert (await a.expect_type(msg.Error)).reason == "not-recording"
    # Consent messages that are not allowed now: a precise reason, never silence.
    await a.send(msg.ConsentGrant())
    assert (await a.expect_type(msg.Error)).reason == "no-request"
    # Flooding: beyond the burst, error frames say so; the socket survives and recovers.
    for _ in range(40):
        await a.send(msg.Ping())
    await a.expect_type(msg.Error, reason="rate-limited")
    await asyncio.sleep(1.0)
    a.frames.clear()
    await a.send(msg.Ping())
    await a.expect_type(msg.Pong)
    assert a.closed is None
    await a.close()


async def test_consent_over_the_socket_without_a_recorder(server: Server, issuer: TestIssuer) -> None:
    a, b, _pid, sid = await members(server, issuer)
    await a.connect()
    await b.connect()
    await a.expect_type(msg.Joined)
    await b.expect_type(msg.Joined)
    await a.send(msg.ConsentRequest())
    for m in (a, b):
        state = await m.expect_type(msg.RecordingState, phase="requested")
        assert state.requested_by == MENTOR
    await a.send(msg.ConsentGrant())
    for m in (a, b):
        assert (await m.expect_type(msg.RecordingState, phase="requested")).granted == [MENTOR]
    # No recorder configured here: the second grant is refused clearly, nothing records.
    await b.send(msg.ConsentGrant())
    assert (await b.expect_type(msg.Error)).reason == "recording-unavailable"
    await b.send(msg.ConsentRevoke())
    for m in (a, b):
        await m.expect_type(msg.RecordingState, phase="idle")
    ledger = (await http(server.url, issuer, "GET", f"/sessions/{sid}/consent-ledger", MENTEE)).json()
    assert [(e["kind"], e["actor"]) for e in ledger] == [("requested", MENTOR), ("granted", MENTOR),
                                                         ("revoked", MENTEE)]
    await a.close()
    await b.close()


async def test_suspension_and_pairing_end_close_live_sockets(server: Server, issuer: TestIssuer,
                                                             redis: Redis) -> None:
    a, b, pid, _sid = await members(server, issuer)
    await a.connect()
    await b.connect()
    await a.expect_type(msg.Joined)
    await b.expect_type(msg.Joined)
    await RedisStreamBus(redis, "gateway").publish(t.UserSuspended(user_id=MENTEE))
    # The call is over for both: the suspended member is told why, the other only that the programme
    # ended it (never "away, waiting").
    assert (await b.expect_type(msg.CallEnded)).reason == "suspended"
    assert (await b.wait_closed())[0] == 4403
    assert (await a.expect_type(msg.CallEnded)).reason == "ended-by-programme"
    assert (await a.wait_closed())[0] == 4403
    assert not [f for f in a.frames if isinstance(f, msg.PeerAway)]
    await RedisStreamBus(redis, "gateway").publish(t.UserReactivated(user_id=MENTEE))
    await wait_projected(server.app, MENTEE, suspended=False)
    a, b = Member(server, issuer, MENTOR, a.session_id), Member(server, issuer, MENTEE, a.session_id)
    for member in (a, b):
        await member.connect()
        await member.expect_type(msg.Joined)
    ended = await http(server.url, issuer, "POST", f"/pairings/{pid}/end", MENTOR)
    assert ended.status_code == 200
    for member in (a, b):
        assert (await member.expect_type(msg.CallEnded)).reason == "pairing-ended"
        assert (await member.wait_closed())[0] == 4403
    again = Member(server, issuer, MENTOR, a.session_id)
    await again.connect()
    assert (await again.expect_type(msg.Error)).reason == "pairing-not-active"


async def test_reconnect_within_grace_resumes(server: Server, issuer: TestIssuer) -> None:
    a, b, _pid, _sid = await members(server, issuer)
    await a.connect()
    await b.connect()
    await a.expect_type(msg.Joined)
    await b.expect_type(msg.Joined)
    await a.expect_type(msg.PeerJoined)
    b.ws.transport.abort()  # the network drops, no close handshake
    await a.expect_type(msg.PeerAway)
    await b.connect()
    joined = await b.expect_type(msg.Joined)
    assert joined.resumed and joined.peer_present
    assert (await a.expect_type(msg.PeerJoined)).resumed
    # After resuming, ICE restart requests are relayed.
    await b.send(msg.IceRestart())
    await a.expect_type(msg.RelayedIceRestart)
    # A second socket of the same member replaces the first.
    b2 = Member(server, issuer, MENTEE, b.session_id)
    await b2.connect()
    await b2.expect_type(msg.Joined)
    assert (await b.expect_type(msg.Closing)).reason == "replaced"
    await b2.send(msg.Leave())
    await a.expect_type(msg.PeerLeft)
    await a.close()


def test_turn_credentials_follow_the_coturn_scheme() -> None:
    # Known answer computed independently: HMAC-SHA1("secret", "1700003600:u1"), base64.
    import base64
    import hashlib
    import hmac

    username, credential = turn_credential("secret", "u1", 1_700_000_000, 3600)
    assert username == "1700003600:u1"
    assert credential == base64.b64encode(hmac.new(b"secret", b"1700003600:u1", hashlib.sha1).digest()).decode()
    assert ice_servers((), "", "u1", 0, 60) == []
    servers = ice_servers(("turn:t:3478",), "s", "u1", 100, 60)
    assert servers[0].username == "160:u1"


async def test_socket_without_a_valid_assertion_is_refused(server: Server, issuer: TestIssuer) -> None:
    import websockets

    _pid, sid = await open_session(server.url, issuer, MENTOR, MENTEE)
    url = f"{server.ws}/sessions/{sid}/signal"
    for headers in ({}, {"tandem-assertion": "forged"},
                    {"tandem-assertion": issuer.token(MENTOR, ["mentor"], "records")}):
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                await ws.send(msg.encode(msg.Join()).decode())
                await ws.recv()
        except websockets.InvalidStatus as refused:
            assert refused.response.status_code in (401, 403)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code in (4401, 4403, 1008), closed
        else:
            raise AssertionError(f"joined without a valid assertion: {headers.keys()}")


async def test_a_member_lost_with_a_dead_instance_is_not_taken_for_consenting(server: Server, issuer: TestIssuer,
                                                                             redis: Redis) -> None:
    import time

    import msgspec

    from services.sessions.consent import machine as cm
    from services.sessions.consent.service import ConsentStore
    from services.sessions.signalling.hub import PRESENCE, Presence
    from shared.db import create_engine

    a, _b, _pid, sid = await members(server, issuer)
    await a.connect()
    await a.expect_type(msg.Joined)
    # The mentee's socket lived on an instance that died without closing it: presence still says
    # "here" and the consent state still has them connected with a grant, but no live instance keeps
    # their alive key fresh.
    engine = create_engine(server.settings.database_url)
    store = ConsentStore(engine)
    pair = (MENTOR, MENTEE)
    for event in (cm.Connect(MENTEE), cm.Request(MENTEE), cm.Grant(MENTEE)):
        await store.transition(sid, pair, event)
    await redis.hset(PRESENCE + sid, MENTEE, msgspec.json.encode(Presence("dead-conn", "here", time.time())))
    await a.send(msg.ConsentGrant())
    state = await a.expect_type(msg.RecordingState, granted=[MENTOR])
    assert state.phase == "requested" and state.recording_id is None
    kinds = [(e["kind"], e["actor"], e["reason"]) for e in await store.ledger(sid)]
    await engine.dispose()
    assert kinds[-2:] == [("revoked", MENTEE, "disconnected"), ("granted", MENTOR, None)]
    assert not [f for f in a.frames if isinstance(f, msg.RecordingState) and f.phase == "recording"]
    await a.close()
