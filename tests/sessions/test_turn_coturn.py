"""The credentials sessions mints against a real coturn (`use-auth-secret`, as deploy/coturn configures it):
a fresh one gets a relay allocation, an expired one is refused. So a member who gets no renewal (suspended,
pairing ended) cannot open a new relay once the short TTL has run out."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aioice.turn import create_turn_endpoint

from deploy.local.children import free_port
from services.sessions.signalling.turn import ice_servers

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("turnserver") is None, reason="coturn (turnserver) is not installed")]

SECRET = "coturn-test-secret"


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        ["turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
         "--use-auth-secret", f"--static-auth-secret={SECRET}", "--realm=tandem.test", "--no-cli", "--no-tls",
         "--no-dtls", "--fingerprint", "--log-file=stdout", "--simple-log", f"--pidfile={tmp_path / 'turn.pid'}",
         f"--userdb={tmp_path / 'turndb'}", "--min-port=49160", "--max-port=49200"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        for line in proc.stdout:  # ready once it listens
            if b"listener opened on" in line or b"Total General servers" in line:
                break
            assert time.monotonic() < deadline, "coturn did not start"
        time.sleep(0.3)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


async def allocate(server: tuple[str, int], username: str, credential: str) -> tuple[str, int]:
    transport, _ = await asyncio.wait_for(create_turn_endpoint(
        asyncio.DatagramProtocol, server_addr=server, username=username, password=credential, lifetime=600), 10)
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


def credential(user: str, now: float, ttl_s: int) -> tuple[str, str]:
    [turn] = ice_servers(("turn:127.0.0.1:3478",), SECRET, user, now, ttl_s)
    assert turn.username is not None and turn.credential is not None
    return turn.username, turn.credential


async def test_a_fresh_credential_relays_and_an_expired_one_is_refused(coturn: tuple[str, int]) -> None:
    relayed = await allocate(coturn, *credential("u-mentee", time.time(), 300))
    assert relayed[0] == "127.0.0.1" and 49160 <= relayed[1] <= 49200
    # Minted 301 s ago with the 5-minute TTL: what a member who got no renewal still holds.
    with pytest.raises(Exception) as refused:
        await allocate(coturn, *credential("u-mentee", time.time() - 301, 300))
    assert "401" in str(refused.value) or "Unauthorized" in str(refused.value), repr(refused.value)
