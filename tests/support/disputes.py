"""Dispute test helpers: the cast, a settable clock shared by the app and the test's own Records, and the
world of a pair with recordings of two sessions (its requests, holds, raw streams and events)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from redis.asyncio import Redis

from services.records.lifecycle.tables import records
from shared.bus import FIELD
from shared.events import decode_envelope
from tests.support.records import Harness, meta_header

T = TypeVar("T")
MENTOR, MENTEE = "u-mentor", "u-mentee"
A1, A2, A3 = "admin-1", "admin-2", "admin-3"
REASON = "CONFIDENTIAL-REASON mentee says the mentor shouted during the session"
# Recordings below are captured 2026-11-22 and kept 90 days: by T0 they are all past retain_until.
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand (never sleep)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class World:
    h: Harness
    clock: Clock
    redis: Redis
    media: dict[str, bytes] = field(default_factory=dict)  # record id -> plaintext
    s1: list[str] = field(default_factory=list)  # recordings of session s1
    s2: list[str] = field(default_factory=list)  # recordings of session s2

    def hdr(self, sub: str, *roles: str) -> dict[str, str]:
        return self.h.h(sub, *roles)

    def admin(self, sub: str) -> dict[str, str]:
        return self.h.h(sub, "admin")

    @property
    def mentee(self) -> dict[str, str]:
        return self.h.h(MENTEE, "mentee")

    @property
    def mentor(self) -> dict[str, str]:
        return self.h.h(MENTOR, "mentor")

    async def post(self, path: str, headers: dict[str, str], **body: Any) -> Any:
        return await self.h.client.post(path, headers=headers, json=body)

    async def open(self, session: str = "s1", who: dict[str, str] | None = None) -> str:
        resp = await self.post("/disputes", who or self.mentee, session_id=session, reason=REASON)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    async def approved(self, session: str = "s1", grantee: str = A2, record: str | None = None) -> str:
        """A dispute whose pending request (A1 asks for `grantee`) A3 approved."""
        did = await self.open(session)
        rid = record or (self.s1 if session == "s1" else self.s2)[0]
        resp = await self.post(f"/disputes/{did}/request-access", self.admin(A1), admin_ids=[grantee],
                               record_ids=[rid], reason="need to hear minute 3")
        assert resp.status_code == 200, resp.text
        resp = await self.post(f"/disputes/{did}/approve", self.admin(A3), reason="justified by the complaint")
        assert resp.status_code == 200, resp.text
        return did

    async def holds(self) -> dict[str, bool]:
        async with self.h.engine.connect() as conn:
            return {r.id: r.legal_hold for r in await conn.execute(sa.select(records.c.id, records.c.legal_hold))}

    async def raw(self, stream: str) -> list[dict[bytes, bytes]]:
        """The stream's entries as stored in Redis."""
        entries: Any = await self.redis.xrange(stream)
        return [fields for _, fields in entries]

    async def events(self, stream: str, kind: type[T], expect: int, timeout: float = 10.0) -> list[T]:
        """Events of `kind` published on `stream` (by the app's outbox relay), once `expect` arrived."""
        async with asyncio.timeout(timeout):
            while True:
                payloads: list[object] = [decode_envelope(f[FIELD.encode()]).payload()
                                          for f in await self.raw(stream)]
                found = [p for p in payloads if isinstance(p, kind)]
                if len(found) >= expect:
                    return found
                await asyncio.sleep(0.05)


def ingest_body(size: int) -> bytes:
    return secrets.token_bytes(size)


async def build_world(h: Harness, redis: Redis, clock: Clock) -> World:
    """`clock` is the one the harness was opened with (the app's and the test's records services' time)."""
    w = World(h, clock, redis)
    await h.pair("p1", MENTOR, MENTEE)
    await h.schedule("s1", "p1")
    for session, bucket, n in (("s1", w.s1, 2), ("s2", w.s2, 1)):
        for i in range(n):
            body = ingest_body(20_000 + i)
            resp = await h.client.post("/internal/recordings", content=body, headers={
                **h.h("svc-sessions", "service"),
                "tandem-recording": meta_header(session_id=session, recording_id=f"{session}-{i}")})
            assert resp.status_code == 201, resp.text
            rid = resp.json()["id"]
            w.media[rid] = body
            bucket.append(rid)
    return w


def dispute_settings(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {"audit_key_dir": str(tmp_path / "audit-keys"), "audit_bucket": f"audit-{secrets.token_hex(6)}",
            "audit_lock_days": 1, "audit_checkpoint_interval_s": 0.0, **overrides}


def problem(resp: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = msgspec.json.decode(resp.content)
    if slug:
        assert body["type"].endswith("/" + slug), body
    return body
