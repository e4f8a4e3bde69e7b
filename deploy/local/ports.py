"""Ports of the one-machine mode: free-port helpers for tests, the SeaweedFS port layout, and the check
`tandem run` makes of every port it needs before it starts anything (issue 16: a busy port is named, with
the setting that moves it, instead of being discovered in a child's log)."""

from __future__ import annotations

import os
import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"

# `weed mini` flag -> offset from the S3 base port. Every SeaweedFS port comes from here, so the list
# `tandem run` checks is the list `start_seaweed` passes.
SEAWEED_PORTS = {
    "-master.port": 0, "-volume.port": 1, "-filer.port": 2, "-s3.port": 3, "-metricsPort": 5,
    "-master.port.grpc": 10000, "-volume.port.grpc": 10001, "-filer.port.grpc": 10002, "-s3.port.grpc": 10003,
}
SEAWEED_PORT_ROLES = {
    0: "SeaweedFS master", 1: "SeaweedFS volume server", 2: "SeaweedFS filer", 3: "the S3 endpoint",
    5: "SeaweedFS metrics", 10000: "SeaweedFS master gRPC", 10001: "SeaweedFS volume gRPC",
    10002: "SeaweedFS filer gRPC", 10003: "SeaweedFS S3 gRPC",
}
S3_OFFSETS = tuple(sorted(SEAWEED_PORTS.values()))
S3_PORT_OFFSET = SEAWEED_PORTS["-s3.port"]

MOVE_SERVICES = "TANDEM_PORT_BASE or --port-base"
MOVE_REDIS = "TANDEM_REDIS_PORT or --redis-port"
MOVE_S3 = "TANDEM_S3_BASE_PORT or --s3-base-port"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands to outgoing connections (Linux's ip_local_port_range)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def _below_ephemeral(span: int) -> tuple[int, int]:
    """Bases B in [low, high) with B + span still under the ephemeral range: a port chosen there cannot be
    taken, between the choice and the bind, by an outgoing connection's local port (a port from bind(0)
    or from inside the ephemeral range can; SeaweedFS alone opens dozens of connections while it starts)."""
    low, high = 10000, ephemeral_range()[0] - span
    if high - low < 1000:  # an unusual ephemeral range: fall back to the ports above it
        low, high = ephemeral_range()[1] + 1, 65536 - span
    return low, high


def free_port() -> int:
    """A free loopback port outside the ephemeral range."""
    return free_port_block((0,))


def free_port_block(offsets: tuple[int, ...]) -> int:
    """A base port B such that B+offset is free for every offset, all outside the ephemeral range."""
    low, high = _below_ephemeral(max(offsets) + 1)
    rng = random.Random(os.getpid() ^ time.monotonic_ns())  # noqa: S311 - not security relevant
    for _ in range(200):
        base = rng.randrange(low, high)
        if all(port_is_free(base + off) for off in offsets):
            return base
    raise RuntimeError("no free port block found")


@dataclass(frozen=True)
class PortNeed:
    port: int
    what: str  # who listens there, e.g. "SeaweedFS filer gRPC (S3 base + 10002)"
    moved_by: str  # the variable and flag that move it
    host: str = LOOPBACK


def seaweed_needs(base: int) -> list[PortNeed]:
    return [PortNeed(base + off, f"{SEAWEED_PORT_ROLES[off]} (S3 base + {off})", MOVE_S3) for off in S3_OFFSETS]


def port_problem(needs: list[PortNeed]) -> str | None:
    """One line about the first port that cannot be used (out of range, wanted twice, or taken), or None."""
    seen: dict[int, PortNeed] = {}
    for need in needs:
        if not 0 < need.port < 65536:
            return f"port {need.port} for {need.what} is out of range; choose other ports with {need.moved_by}"
        if need.port in seen:
            first = seen[need.port]
            return (f"port {need.port} is wanted by both {first.what} and {need.what}; "
                    f"move one with {first.moved_by}" + ("" if first.moved_by == need.moved_by else
                                                         f" or {need.moved_by}"))
        seen[need.port] = need
    for need in needs:
        if not port_is_free(need.port, need.host):
            return (f"port {need.port} on {need.host}, needed by {need.what}, is already in use (another "
                    f"`tandem run`?); free it or choose other ports with {need.moved_by}")
    return None
