"""When the programme ends a call (issue 14, item 3), through a real uvicorn server with aiortc members:
both members get `call-ended` with a reason before the close, a socket the gateway cut on revocation
(close 4401) ends the call for the other member too, the consent ledger and the `recording.stopped`
event name the cause (`suspended`, `signed_out`), and TURN credentials are short-lived and renewed over
signalling only while the member may still be in the call."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from services.sessions.adapters.sink import HttpRecordingSink
from services.sessions.config import Settings
from services.sessions.signalling import messages as msg
from services.sessions.signalling.turn import recorder_ttl_s
from services.sessions.users import service as users_svc
from shared.bus import RedisStreamBus
from shared.config import ConfigError
from shared.events import decode_envelope, new_envelope
from shared.events import types as t
from tests.support.calls import (
    Member,
    Server,
    ask_and_grant,
    http,
    join_and_call,
    loopback_host_addresses,
    open_session,
    recorder_connected,
    serve,
)
from tests.support.identity import TestIssuer
from tests.support.sessions import MENTEE, MENTOR, OTHER_MENTOR, publish_users, sessions_settings, wait_projected

pytestmark = pytest.mark.integration

SECRET = "turn-test-secret"


class _Accepting(BaseHTTPRequestHandler):
    """A real HTTP endpoint standing in for records' ingest: reads the chunked body, answers 201."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        while True:
            size = int(self.rfile.readline().strip() or b"0", 16)
            self.rfile.read(size + 2)
            if size == 0:
                break
        body = b'{"id": "record-1"}'
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def ingest() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/ingest"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
async def server(db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer, ingest: str) -> AsyncIterator[Server]:
    await publish_users(redis)
    settings = sessions_settings(db_url, redis_url, issuer, reconnect_grace_s=5.0, turn_ttl_s=60, turn_renew_s=1.0,
                                 ice_urls=("turn:turn.example.org:3478",), turn_secret=SECRET)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        with loopback_host_addresses():
            async with serve(settings, recording_sink=HttpRecordingSink(ingest, client)) as srv:
                await wait_projected(srv.app, OTHER_MENTOR, vetted=True)
                yield srv


async def ledger_of(server: Server, issuer: TestIssuer, sid: str) -> list[dict[str, Any]]:
    resp = await http(server.url, issuer, "GET", f"/sessions/{sid}/consent-ledger", MENTOR)
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def until(cond: Any, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await cond():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_suspension_mid_recording_ends_the_call_for_both_and_is_ledgered_as_such(
        server: Server, issuer: TestIssuer, redis: Redis) -> None:
    _pid, sid = await open_session(server.url, issuer, MENTOR, MENTEE)
    a, b = Member(server, issuer, MENTOR, sid), Member(server, issuer, MENTEE, sid)
    await join_and_call(a, b)
    await ask_and_grant(a, b)
    await recorder_connected(a, b)

    await RedisStreamBus(redis, "gateway").publish(t.UserSuspended(user_id=MENTEE))
    # Each is told before the socket closes; the other member is not told why.
    assert (await b.expect_type(msg.CallEnded)).reason == "suspended"
    assert (await a.expect_type(msg.CallEnded)).reason == "ended-by-programme"
    assert (await a.wait_closed())[0] == 4403 and (await b.wait_closed())[0] == 4403

    async def ended() -> bool:  # the transition is written as the sockets close, just after the frames
        return (await ledger_of(server, issuer, sid))[-1]["kind"] == "stopped"

    await until(ended)
    lines = await ledger_of(server, issuer, sid)
    # The ledger keeps the cause; the pair's view of it says only that the programme ended the call.
    kept = (await server.app.state.context.consent.ledger(sid))[-2:]
    assert [(e["kind"], e["actor"], e["reason"]) for e in kept] == [("revoked", MENTEE, "suspended"),
                                                                    ("stopped", MENTEE, "suspended")]
    end = [(e["kind"], e["actor"], e["reason"]) for e in lines[-2:]]
    assert end == [("revoked", MENTEE, "ended_by_programme"), ("stopped", MENTEE, "ended_by_programme")], lines
    assert not [e for e in lines if e["reason"] in ("disconnected", "suspended")], lines

    async def stopped() -> t.RecordingStopped | None:
        entries = await redis.xrange("tandem.session") or []
        for _id, fields in entries:
            raw = fields[b"envelope"] if fields else b""
            envelope = decode_envelope(raw if isinstance(raw, bytes) else raw.encode())
            if envelope.type == "recording.stopped":
                return envelope.payload(t.RecordingStopped)
        return None

    await until(stopped)
    event = await stopped()
    assert event is not None and event.reason == "suspended" and event.record_id == "record-1"
    assert [(line.kind, line.reason) for line in event.ledger] == [("revoked", "suspended"),
                                                                   ("stopped", "suspended")]
    await a.close()
    await b.close()


async def test_a_socket_the_gateway_cut_ends_the_call_for_the_other_member(server: Server,
                                                                           issuer: TestIssuer) -> None:
    _pid, sid = await open_session(server.url, issuer, MENTOR, MENTEE)
    a, b = Member(server, issuer, MENTOR, sid), Member(server, issuer, MENTEE, sid)
    await join_and_call(a, b)
    await b.send(msg.ConsentRequest())
    await b.send(msg.ConsentGrant())
    await a.expect_type(msg.RecordingState, phase="requested", granted=[MENTEE])

    await b.ws.close(code=4401, reason="revoked")  # what the gateway sends when it cuts a revoked sign-in
    assert (await a.expect_type(msg.CallEnded)).reason == "ended-by-programme"
    assert (await a.wait_closed())[0] == 4403
    assert not [f for f in a.frames if isinstance(f, msg.PeerAway)]

    async def revoked() -> bool:
        return (await ledger_of(server, issuer, sid))[-1]["kind"] == "revoked"

    await until(revoked)
    lines = await ledger_of(server, issuer, sid)
    assert (lines[-1]["kind"], lines[-1]["actor"], lines[-1]["reason"]) == ("revoked", MENTEE,
                                                                             "ended_by_programme"), lines
    kept = (await server.app.state.context.consent.ledger(sid))[-1]
    assert (kept["kind"], kept["reason"]) == ("revoked", "signed_out")

    # A plain drop (no revocation) is still a drop: the other member waits, the place is kept.
    a2, b2 = Member(server, issuer, MENTOR, sid), Member(server, issuer, MENTEE, sid)
    await join_and_call(a2, b2)
    await b2.ws.close()
    await a2.expect_type(msg.PeerAway)
    assert a2.closed is None
    await a2.close()


def _expiry(server: msg.IceServer) -> int:
    assert server.username is not None and server.credential is not None
    digest = hmac.new(SECRET.encode(), server.username.encode(), hashlib.sha1).digest()
    assert base64.b64encode(digest).decode() == server.credential
    return int(server.username.split(":", 1)[0])


async def test_turn_credentials_are_short_lived_and_renewed_only_while_admitted(server: Server, issuer: TestIssuer,
                                                                                 redis: Redis) -> None:
    _pid, sid = await open_session(server.url, issuer, MENTOR, MENTEE)
    a, b = Member(server, issuer, MENTOR, sid), Member(server, issuer, MENTEE, sid)
    await a.connect()
    await b.connect()
    first = await b.expect_type(msg.Joined)
    await a.expect_type(msg.Joined)
    assert _expiry(first.ice_servers[0]) <= time.time() + 60
    renewed = await b.expect_type(msg.IceServersRenewed, timeout=10)
    assert _expiry(renewed.ice_servers[0]) > _expiry(first.ice_servers[0]) - 1

    # The projection learns of the suspension without the event's own hook (as if the notice were
    # lost): the next renewal re-checks the room, refuses, and ends the call for both.
    envelope = new_envelope(t.UserSuspended(user_id=MENTEE), source="gateway", subject=f"user:{MENTEE}")
    async with server.app.state.runtime.engine.begin() as conn:
        await users_svc.apply_user_event(conn, envelope)
    b.frames.clear()
    assert (await b.expect_type(msg.CallEnded, timeout=10)).reason == "suspended"
    assert (await a.expect_type(msg.CallEnded, timeout=10)).reason == "ended-by-programme"
    await b.wait_closed()
    assert not [f for f in b.frames if isinstance(f, msg.IceServersRenewed)]
    await a.close()
    await b.close()


def test_turn_ttl_defaults_to_minutes_and_renewal_must_come_before_expiry(tmp_path: Any) -> None:
    keyring = str(tmp_path / "keyring.json")
    assert Settings(keyring_path=keyring).turn_ttl_s <= 600
    with pytest.raises(ConfigError):
        Settings(keyring_path=keyring, turn_ttl_s=120, turn_renew_s=120)


def test_the_recorders_credential_lasts_while_the_room_can_be_open() -> None:
    """The recorder gets no renewal over signalling, so its credential is minted for the room's life."""
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert recorder_ttl_s(300, now + timedelta(hours=1), 1800, now) == 3600 + 1800
    assert recorder_ttl_s(300, now - timedelta(hours=2), 1800, now) == 300
