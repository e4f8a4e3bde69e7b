"""Two sessions instances (real uvicorn processes) sharing one Redis and one database: members on
different instances find each other, their call connects, consent state reaches both."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar, Request, post
from redis.asyncio import Redis

from deploy.local.children import free_port
from services.sessions.signalling import messages as msg
from tests.support.calls import (
    Member,
    ask_and_grant,
    decode,
    join_and_call,
    loopback_host_addresses,
    open_session,
    recorder_connected,
)
from tests.support.identity import TestIssuer
from tests.support.processes import stop_all
from tests.support.sessions import MEDIA_ONLY, MENTEE, MENTOR, publish_users

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class Instance:
    def __init__(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.port, self.proc = port, proc
        self.url = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"


def start_instance(name: str, db_url: str, redis_url: str, issuer: TestIssuer, log: Path,
                   **extra: str) -> Instance:
    port = free_port()
    env = {**os.environ, **extra, "SESSIONS_PORT": str(port), "SESSIONS_DATABASE_URL": db_url,
           "SESSIONS_REDIS_URL": redis_url,
           "SESSIONS_JWKS_FILE": str(issuer.jwks_path), "SESSIONS_INSTANCE_ID": name, "SESSIONS_LOG_LEVEL": "warning",
           "SESSIONS_BUS_CLAIM_IDLE_MS": "1000",
           # Shared by the instances whose logs sit together (as one deployment's are), never the repo's var/.
           "SESSIONS_KEYRING_PATH": str(log.parent / "sessions-keyring.json")}
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen([sys.executable, "-m", "services.sessions"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    return Instance(port, proc)


async def wait_ready(inst: Instance) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            assert inst.proc.poll() is None, "instance exited"
            try:
                if (await client.get(f"{inst.url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("instance not ready")


@contextlib.asynccontextmanager
async def two_instances(tmp_path: Path, db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer,
                        **extra: str) -> AsyncIterator[tuple[Instance, Instance]]:
    """Both instances share `db_url` (one sessions database, as in a scaled-out deployment)."""
    await publish_users(redis)
    started: list[Instance] = []
    try:
        first = start_instance("one", db_url, redis_url, issuer, tmp_path / "one.log", **extra)
        started.append(first)
        await wait_ready(first)  # migrations run once, before the second instance starts
        second = start_instance("two", db_url, redis_url, issuer, tmp_path / "two.log", **extra)
        started.append(second)
        await wait_ready(second)
        yield first, second
    finally:
        stop_all((inst.proc for inst in started), timeout=15)


@pytest.fixture
async def instances(tmp_path: Path, db_url: str, redis_url: str, redis: Redis, issuer: TestIssuer
                    ) -> AsyncIterator[tuple[Instance, Instance]]:
    async with two_instances(tmp_path, db_url, redis_url, redis, issuer) as pair:
        yield pair


@pytest.fixture
def loopback() -> Iterator[None]:
    with loopback_host_addresses():
        yield


class _Srv:
    def __init__(self, inst: Instance) -> None:
        self.url, self.ws = inst.url, inst.ws


async def _open(one: Instance, issuer: TestIssuer) -> tuple[str, str]:
    for _ in range(200):  # the projection fills asynchronously
        try:
            return await open_session(one.url, issuer, MENTOR, MENTEE)
        except AssertionError:
            await asyncio.sleep(0.05)
    return await open_session(one.url, issuer, MENTOR, MENTEE)


async def test_members_on_different_instances_connect(instances: tuple[Instance, Instance], issuer: TestIssuer,
                                                      loopback: None) -> None:
    one, two = instances
    _pid, sid = await _open(one, issuer)
    a = Member(_Srv(one), issuer, MENTOR, sid)  # type: ignore[arg-type]
    b = Member(_Srv(two), issuer, MENTEE, sid)  # type: ignore[arg-type]
    await a.connect()
    await a.expect_type(msg.Joined)
    await b.connect()
    assert (await b.expect_type(msg.Joined)).peer_present
    await a.expect_type(msg.PeerJoined)
    await asyncio.gather(a.call(), b.answer_call())
    await asyncio.gather(a.wait_connected(), b.wait_connected())
    # Consent state is pushed to both, whichever instance handled the message.
    await b.send(msg.ConsentRequest())
    for m in (a, b):
        assert (await m.expect_type(msg.RecordingState, phase="requested")).requested_by == MENTEE
    await a.send(msg.ConsentRevoke())
    for m in (a, b):
        await m.expect_type(msg.RecordingState, phase="idle")
    # A drop on one instance is seen on the other; the member resumes on the *other* instance.
    b.ws.transport.abort()
    await a.expect_type(msg.PeerAway)
    await b.connect(server=_Srv(one))  # type: ignore[arg-type]
    assert (await b.expect_type(msg.Joined)).resumed
    assert (await a.expect_type(msg.PeerJoined)).resumed
    await a.close()
    await b.close()




@pytest.mark.sqlite_pass_only(reason=MEDIA_ONLY)
async def test_recording_across_instances(tmp_path: Path, db_url: str, redis_url: str, redis: Redis,
                                          issuer: TestIssuer, loopback: None) -> None:
    """The recorder runs on one instance; the member on the other reaches it through Redis."""
    stored: list[bytes] = []

    @post("/ingest", status_code=201)
    async def ingest(request: Request[Any, Any, Any]) -> dict[str, str]:
        stored.append(b"".join([chunk async for chunk in request.stream()]))
        return {"id": f"rec-{len(stored)}"}

    port = free_port()
    sink = uvicorn.Server(uvicorn.Config(Litestar([ingest]), host="127.0.0.1", port=port, log_config=None))
    sink.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    sink_task = asyncio.create_task(sink.serve())
    try:
        async with two_instances(tmp_path, db_url, redis_url, redis, issuer,
                                 SESSIONS_RECORDING_SINK_URL=f"http://127.0.0.1:{port}/ingest") as (one, two):
            _pid, sid = await _open(one, issuer)
            a = Member(_Srv(one), issuer, MENTOR, sid)  # type: ignore[arg-type]
            b = Member(_Srv(two), issuer, MENTEE, sid)  # type: ignore[arg-type]
            await join_and_call(a, b)
            await ask_and_grant(a, b)  # b's grant on instance two commits the start and hosts the recorder
            await recorder_connected(a, b)
            await asyncio.sleep(2.0)
            await a.send(msg.ConsentRevoke())  # revoked on instance one: the recorder on two stops
            for m in (a, b):
                await m.expect_type(msg.RecordingState, phase="idle")
            for _ in range(500):
                if stored:
                    break
                await asyncio.sleep(0.02)
            await a.close()
            await b.close()
    finally:
        sink.should_exit = True
        await asyncio.wait_for(sink_task, 10)
    assert stored and stored[0]
    streams = decode(stored[0])
    assert sorted(streams) == sorted([f"{MENTOR} video", f"{MENTOR} audio", f"{MENTEE} video", f"{MENTEE} audio"])
    assert all(entry["errors"] == 0 and entry["frames"] > 0 for entry in streams.values()), streams
