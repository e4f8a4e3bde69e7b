"""Signalling relay latency and idle-socket cost, against raw Redis pub/sub in the same run.

    python bench/signalling.py [--messages 2000] [--sockets 2000]

Starts a private redis-server and two sessions instances (real uvicorn processes, one shared SQLite
database). Measures, for one small frame from member A to member B (sent, then awaited):
  - same instance (A and B on instance one),
  - across instances (A on one, B on two: routed through Redis pub/sub),
  - baseline: a raw Redis PUBLISH → subscriber round trip on the same server.
Then opens --sockets idle WebSocket connections to instance one and reports its RSS per socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import websockets  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from deploy.local.children import free_port, start_redis  # noqa: E402
from shared.bus import RedisStreamBus  # noqa: E402
from shared.events import types as t  # noqa: E402
from tests.support.identity import TestIssuer  # noqa: E402

MENTOR, MENTEE, ADMIN = "bench-mentor", "bench-mentee", "bench-admin"
ROLES = {MENTOR: ["mentor"], MENTEE: ["mentee"], ADMIN: ["admin"]}


def start_instance(name: str, db_url: str, redis_url: str, jwks: Path,
                   log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**os.environ, "SESSIONS_PORT": str(port), "SESSIONS_DATABASE_URL": db_url,
           "SESSIONS_REDIS_URL": redis_url, "SESSIONS_JWKS_FILE": str(jwks), "SESSIONS_INSTANCE_ID": name,
           "SESSIONS_LOG_LEVEL": "warning", "SESSIONS_WS_RATE_PER_S": "1000000", "SESSIONS_WS_BURST": "1000000"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "services.sessions"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    return f"127.0.0.1:{port}", proc


async def wait_ready(addr: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"instance {addr} exited")
            try:
                if (await client.get(f"http://{addr}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit(f"instance {addr} not ready")


async def setup_sessions(addr: str, issuer: TestIssuer, count: int) -> list[str]:
    def h(sub: str) -> dict[str, str]:
        return issuer.headers(sub, ROLES[sub], "sessions")

    async with issuer.bind(httpx.AsyncClient(base_url=f"http://{addr}")) as client:  # per-request assertions
        for _ in range(200):
            r = await client.post("/pairings", headers=h(ADMIN), json={"mentor_id": MENTOR, "mentee_id": MENTEE})
            if r.status_code == 201:
                break
            await asyncio.sleep(0.05)  # the users projection is still filling
        pid = r.json()["pairing_id"]
        for who in (MENTOR, MENTEE):
            await client.post(f"/pairings/{pid}/accept", headers=h(who))
        start = datetime.now(UTC) + timedelta(minutes=1)
        out = []
        for _ in range(count):
            r = await client.post(f"/pairings/{pid}/sessions", headers=h(MENTOR), json={
                "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()})
            out.append(r.json()["session_id"])
        return out


async def join(addr: str, issuer: TestIssuer, sub: str, sid: str) -> websockets.ClientConnection:
    url = f"ws://{addr}/sessions/{sid}/signal"
    ws = await websockets.connect(url, compression=None,
                                  additional_headers=issuer.ws_headers(sub, ROLES[sub], "sessions", url))
    await ws.send('{"type":"join"}')
    while json.loads(await ws.recv())["type"] != "joined":
        pass
    return ws


async def relay_latency(a: websockets.ClientConnection, b: websockets.ClientConnection, n: int) -> list[float]:
    # Drain whatever B has queued (peer-joined etc.).
    while True:
        try:
            await asyncio.wait_for(b.recv(), 0.2)
        except TimeoutError:
            break
    out = []
    for i in range(n + 50):
        frame = json.dumps({"type": "ice-candidate", "candidate": f"candidate:{i} 1 udp 1 127.0.0.1 9 typ host",
                            "sdp_mid": "0", "sdp_mline_index": 0})
        t0 = time.perf_counter()
        await a.send(frame)
        await b.recv()
        if i >= 50:  # warm-up
            out.append(time.perf_counter() - t0)
    return out


async def redis_latency(redis_url: str, n: int) -> list[float]:
    pub, sub = Redis.from_url(redis_url), Redis.from_url(redis_url)
    ps = sub.pubsub(ignore_subscribe_messages=True)
    await ps.subscribe("bench")
    out = []
    payload = b'{"to":"x","frm":"y","frame":{"type":"ice-candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9"}}'
    for i in range(n + 50):
        t0 = time.perf_counter()
        await pub.publish("bench", payload)
        while await ps.get_message(timeout=5.0) is None:
            pass
        if i >= 50:
            out.append(time.perf_counter() - t0)
    await ps.aclose()
    await pub.aclose()
    await sub.aclose()
    return out


def summary(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100)
    return {"p50_us": round(q[49] * 1e6, 1), "p99_us": round(q[98] * 1e6, 1)}


async def idle_sockets(addr: str, pid: int, issuer: TestIssuer, sid: str, count: int) -> dict[str, float]:
    proc = psutil.Process(pid)
    before = proc.memory_info().rss
    url = f"ws://{addr}/sessions/{sid}/signal"
    # One assertion per handshake (each is accepted once), minted before the clock starts.
    handshakes = [issuer.ws_headers(MENTOR, ROLES[MENTOR], "sessions", url, lifetime=60) for _ in range(count)]
    conns = []
    t0 = time.perf_counter()
    for headers in handshakes:
        conns.append(await websockets.connect(url, compression=None, additional_headers=headers))
    opened = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    after = proc.memory_info().rss
    alive = sum(1 for c in conns if c.state.name == "OPEN")
    await asyncio.gather(*(c.close() for c in conns))
    return {"sockets": count, "open": alive, "rss_before_mb": round(before / 2**20, 1),
            "rss_after_mb": round(after / 2**20, 1), "kb_per_socket": round((after - before) / count / 1024, 1),
            "open_per_s": round(count / opened)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sockets", type=int, default=2000)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-signalling-") as d:
        tmp = Path(d)
        redis_child = start_redis(tmp / "redis")
        try:
            issuer = TestIssuer.create(tmp / "jwks.json")
            redis = Redis.from_url(redis_child.url)
            bus = RedisStreamBus(redis, "gateway")
            for uid, roles in ROLES.items():
                await bus.publish(t.UserCreated(user_id=uid, roles=roles))
                await bus.publish(t.UserAgreementsChanged(user_id=uid, accepted_current=True))
            await bus.publish(t.UserVettingChanged(user_id=MENTOR, vetted=True))
            await redis.aclose()
            db_url = f"sqlite:///{tmp / 'sessions.db'}"
            one, p1 = start_instance("one", db_url, redis_child.url, issuer.jwks_path, tmp / "one.log")
            procs.append(p1)
            await wait_ready(one, p1)
            two, p2 = start_instance("two", db_url, redis_child.url, issuer.jwks_path, tmp / "two.log")
            procs.append(p2)
            await wait_ready(two, p2)
            same_sid, cross_sid, idle_sid = await setup_sessions(one, issuer, 3)

            a, b = await join(one, issuer, MENTOR, same_sid), await join(one, issuer, MENTEE, same_sid)
            same = await relay_latency(a, b, args.messages)
            await a.close()
            await b.close()
            a, b = await join(one, issuer, MENTOR, cross_sid), await join(two, issuer, MENTEE, cross_sid)
            cross = await relay_latency(a, b, args.messages)
            await a.close()
            await b.close()
            raw = await redis_latency(redis_child.url, args.messages)
            idle = await idle_sockets(one, p1.pid, issuer, idle_sid, args.sockets)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(20)
            redis_child.stop()
    result = {
        "messages": args.messages,
        "same_instance": summary(same),
        "cross_instance": summary(cross),
        "raw_redis_pubsub_round_trip": summary(raw),
        "cross_vs_same_p50": round(statistics.median(cross) / statistics.median(same), 2),
        "cross_minus_raw_redis_p50_us": round((statistics.median(cross) - statistics.median(raw)) * 1e6, 1),
        "idle": idle,
        "note": "A→B includes A's send and B's receive in this client process; p50/p99 over sequential frames.",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
