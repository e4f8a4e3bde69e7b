"""The ledger: append (serialised, idempotent per event id), checkpoint, search, and the fail-closed
helper dispute access calls before it produces any plaintext."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.records.audit import chain
from services.records.audit.archive import CheckpointArchive, CheckpointDoc, object_key
from services.records.audit.catalogue import CATALOGUE
from services.records.audit.keys import AuditKeys, is_id_like
from services.records.audit.tables import audit_checkpoints, audit_entries, audit_head, audit_hidden
from shared.audit import OUTCOMES
from shared.clock import Clock, utcnow
from shared.crypto.errors import DecryptionError
from shared.http import ServiceUnavailable
from shared.logging import get_logger
from shared.tasks import cancel

log = get_logger("tandem.records.audit")


class LedgerUnavailable(ServiceUnavailable):
    """The audit entry could not be written: the caller must not proceed (503 problem+json)."""

    slug = "audit-unavailable"

    def __init__(self) -> None:
        super().__init__("The access could not be recorded in the audit ledger, so it was not performed.")


@dataclass(frozen=True)
class NewEntry:
    """One audit fact as received (clear values); the ledger decides what is stored in clear."""

    event_id: str
    occurred_at: datetime
    source: str
    actor: str
    action: str
    target: str
    outcome: str
    reason: str | None = None
    hidden_from: tuple[str, ...] = ()  # account ids never shown this entry (stored as HMACs)


@dataclass(frozen=True)
class Receipt:
    seq: int
    event_id: str
    hash: str
    appended: bool  # False: this event id was already in the ledger (redelivery)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: bytes
    object_key: str | None


@dataclass(frozen=True)
class SearchFilter:
    actor: str | None = None
    target: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_seq: int | None = None
    limit: int = 100
    # Which actions the reader may see (None: all); `uncatalogued` adds entries whose action is not in
    # the catalogue (operators see those as problems).
    actions: Sequence[str] | None = None
    uncatalogued: bool = False
    # Who is searching: entries hidden from this account id are left out (and take no place in `limit`).
    reader: str | None = None
    # Actions left out (e.g. the ledger's own `audit.search` entries); they take no place in `limit`.
    exclude: Sequence[str] = ()


def _clip(value: str, size: int) -> str:
    return value if len(value) <= size else value[:size]


class Ledger:
    def __init__(self, engine: AsyncEngine, keys: AuditKeys, *, clock: Clock = utcnow,
                 archive: CheckpointArchive | None = None, source: str = "records") -> None:
        self.engine = engine
        self.keys = keys
        self.source = source  # the service writing entries straight in (record_access_or_fail)
        self.clock = clock
        self.archive = archive
        # One appender at a time per process; the head-row lock does the same across processes.
        self._lock = asyncio.Lock()
        self.last_checkpoint_seq: int | None = None

    # -- append -----------------------------------------------------------------------------------

    def protect(self, entry: NewEntry, recorded_at: datetime) -> dict[str, Any]:
        """The stored form of an entry: ids in clear, anything else as a keyed HMAC; reasons sealed."""
        keys = self.keys
        action = entry.action if is_id_like(entry.action) and len(entry.action) <= 100 else \
            "hmac:" + keys.mac("action", entry.action)[:32]
        return {
            "event_id": _clip(entry.event_id, 64),
            "occurred_at": entry.occurred_at.astimezone(UTC),
            "recorded_at": recorded_at.astimezone(UTC),
            "source": entry.source if is_id_like(entry.source) and len(entry.source) <= 64 else "unknown",
            "actor": entry.actor if is_id_like(entry.actor) else None,
            "actor_hmac": keys.mac("actor", entry.actor),
            "action": action,
            "target": entry.target if is_id_like(entry.target) else None,
            "target_hmac": keys.mac("target", entry.target),
            "outcome": entry.outcome if entry.outcome in OUTCOMES else "unknown",
            "reason_hmac": keys.mac("reason", entry.reason) if entry.reason is not None else None,
            "reason_sealed": keys.seal_reason(entry.event_id, entry.reason) if entry.reason is not None else None,
            "key_id": keys.key_id,
        }

    async def append(self, entry: NewEntry) -> Receipt:
        """Chain one entry after the head; an event id already present is not appended again."""
        return (await self.append_many([entry]))[0]

    async def append_many(self, entries: Sequence[NewEntry]) -> list[Receipt]:
        """Chain several entries in one transaction (one lock round trip)."""
        now = self.clock()
        rows = [self.protect(e, now) for e in entries]
        hidden = [sorted({self.keys.mac("hidden", sub) for sub in e.hidden_from}) for e in entries]
        async with self._lock, self.engine.begin() as conn:
            receipts = await self._append_rows(conn, rows, hidden, now)
        for row, receipt in zip(rows, receipts, strict=True):
            if receipt.appended and row["action"] not in CATALOGUE:
                # Stored, shown to no reader; operators find it here and in `tandem audit problems`.
                log.warning("audit.uncatalogued_action", seq=receipt.seq, source=row["source"])
        return receipts

    @staticmethod
    async def _append_rows(conn: AsyncConnection, rows: list[dict[str, Any]], hidden: list[list[str]],
                           now: datetime) -> list[Receipt]:
        # UPDATE first: it takes the head row lock (PostgreSQL) / the write lock (SQLite) before
        # anything is read, so a concurrent appender waits here and then sees the new head.
        await conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(updated_at=now))
        head = (await conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)
                                   .where(audit_head.c.id == 1))).one()
        seq, prev = int(head.seq), str(head.hash)
        ids = [r["event_id"] for r in rows]
        existing = {r.event_id: r for r in (await conn.execute(
            sa.select(audit_entries.c.event_id, audit_entries.c.seq, audit_entries.c.hash)
            .where(audit_entries.c.event_id.in_(ids)))).all()}
        receipts: list[Receipt] = []
        new_rows: list[dict[str, Any]] = []
        hidden_rows: list[dict[str, Any]] = []
        seen: dict[str, Receipt] = {}
        for row, readers in zip(rows, hidden, strict=True):
            eid = row["event_id"]
            if eid in existing:
                old = existing[eid]
                receipts.append(Receipt(int(old.seq), eid, str(old.hash), appended=False))
                continue
            if eid in seen:
                receipts.append(Receipt(seen[eid].seq, eid, seen[eid].hash, appended=False))
                continue
            seq += 1
            full = {**row, "seq": seq, "prev_hash": prev}
            full["hash"] = prev = chain.entry_hash(full["prev_hash"], full)
            new_rows.append(full)
            hidden_rows += [{"seq": seq, "reader_hmac": mac} for mac in readers]
            seen[eid] = Receipt(seq, eid, prev, appended=True)
            receipts.append(seen[eid])
        if new_rows:
            await conn.execute(sa.insert(audit_entries), new_rows)
            if hidden_rows:
                await conn.execute(sa.insert(audit_hidden), hidden_rows)
            await conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))
        return receipts

    async def head(self) -> tuple[int, str]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)
                                      .where(audit_head.c.id == 1))).one()
        return int(row.seq), str(row.hash)

    # -- checkpoints ------------------------------------------------------------------------------

    async def checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """Sign the head and store the signature (database row and, if configured, object storage).

        Nothing happens when the head is already checkpointed (unless `force`)."""
        async with self.engine.connect() as conn:
            head = (await conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)
                                       .where(audit_head.c.id == 1))).one()
            last = (await conn.execute(sa.select(sa.func.max(audit_checkpoints.c.seq)))).scalar()
        seq, head_hash = int(head.seq), str(head.hash)
        self.last_checkpoint_seq = int(last) if last is not None else None
        if not force and (seq == 0 or (last is not None and int(last) >= seq)):
            return None
        signed_at = self.clock().astimezone(UTC)
        signature = self.keys.sign(chain.checkpoint_message(seq, head_hash, signed_at))
        key = None
        if self.archive is not None:
            key = object_key(seq, self.keys.signing_key_id, signed_at)
            doc = CheckpointDoc(seq=seq, hash=head_hash, signed_at=signed_at, key_id=self.keys.signing_key_id,
                                signature=base64.b64encode(signature).decode())
            try:
                await asyncio.to_thread(self.archive.put, key, doc)
            except Exception as exc:  # noqa: BLE001 - the database copy still counts; the next one retries
                log.warning("audit.checkpoint_archive_failed", seq=seq, exc_type=type(exc).__name__,
                            code=getattr(exc, "code", None))
                key = None
        async with self.engine.begin() as conn:
            await conn.execute(sa.insert(audit_checkpoints).values(
                seq=seq, hash=head_hash, signed_at=signed_at, key_id=self.keys.signing_key_id,
                signature=signature, object_key=key))
        self.last_checkpoint_seq = seq
        log.info("audit.checkpoint", seq=seq, archived=key is not None)
        return Checkpoint(seq, head_hash, signed_at, self.keys.signing_key_id, signature, key)

    # -- search (auditor view) ----------------------------------------------------------------------

    async def search(self, f: SearchFilter) -> list[sa.Row[Any]]:
        """Newest first; exact match on actor/target (through their HMAC), action, time range. Never
        by reason or any other content. Entries hidden from `reader` are filtered in the query, so a
        page holds `limit` entries the reader may see whenever there are that many."""
        c = audit_entries.c
        query = sa.select(audit_entries).order_by(c.seq.desc()).limit(f.limit)
        if f.actor is not None:
            query = query.where(c.actor_hmac == self.keys.mac("actor", f.actor))
        if f.target is not None:
            query = query.where(c.target_hmac == self.keys.mac("target", f.target))
        if f.action is not None:
            query = query.where(c.action == f.action)
        if f.actions is not None:
            allowed: sa.ColumnElement[bool] = c.action.in_(list(f.actions)) if f.actions else sa.false()
            if f.uncatalogued:
                allowed = sa.or_(allowed, c.action.not_in(list(CATALOGUE)))
            query = query.where(allowed)
        if f.exclude:
            query = query.where(c.action.not_in(list(f.exclude)))
        if f.since is not None:
            query = query.where(c.occurred_at >= f.since)
        if f.until is not None:
            query = query.where(c.occurred_at < f.until)
        if f.before_seq is not None:
            query = query.where(c.seq < f.before_seq)
        if f.reader is not None:
            query = query.where(~sa.exists().where(audit_hidden.c.seq == c.seq,
                                                   audit_hidden.c.reader_hmac == self.keys.mac("hidden", f.reader)))
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def reasons(self, event_ids: Sequence[str]) -> dict[str, str | None]:
        """The reasons of these entries, opened (None where an entry has none or it does not open)."""
        async with self.engine.connect() as conn:
            sealed = {r.event_id: r.reason_sealed for r in await conn.execute(
                sa.select(audit_entries.c.event_id, audit_entries.c.reason_sealed)
                .where(audit_entries.c.event_id.in_(list(event_ids))))}
        return {event_id: self._open_reason(event_id, sealed.get(event_id)) for event_id in event_ids}

    def _open_reason(self, event_id: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        try:
            return self.keys.open_reason(event_id, blob)
        except DecryptionError:
            return None


class Checkpointer:
    """Signs the head every `interval_s` seconds while new entries are pending, and right away once
    `every` entries have accumulated since the last checkpoint."""

    def __init__(self, ledger: Ledger, *, every: int, interval_s: float) -> None:
        self.ledger = ledger
        self.every = every
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def after_append(self, receipt: Receipt) -> None:
        last = self.ledger.last_checkpoint_seq or 0
        if receipt.appended and receipt.seq - last >= self.every:
            await self.ledger.checkpoint()

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._run(), name="audit-checkpointer")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.ledger.checkpoint()
            except Exception as exc:  # noqa: BLE001 - keep trying; verify reports unsigned tails
                log.warning("audit.checkpoint_failed", exc_type=type(exc).__name__)


async def record_access_or_fail(ledger: Ledger, *, actor: str, action: str, target: str,
                                outcome: str = "success", reason: str | None = None,
                                event_id: str | None = None, occurred_at: datetime | None = None,
                                timeout_s: float = 5.0) -> Receipt:
    """Write one audit entry straight into the ledger (same chain, synchronously) or raise.

    For dispute access: call it before producing any plaintext and serve nothing if it raises.
    Raises `LedgerUnavailable` (a 503 problem+json when left to propagate) if the entry is not
    committed within `timeout_s` for any reason: database down, keys missing.
    `target` and `actor` are ids; put byte ranges or the dispute id in `target`/`action`, and free
    text only in `reason` (stored sealed and HMACed, never in clear).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
    entry = NewEntry(event_id=event_id or uuid.uuid4().hex, occurred_at=occurred_at or ledger.clock(),
                     source=ledger.source, actor=actor, action=action, target=target, outcome=outcome,
                     reason=reason)
    try:
        async with asyncio.timeout(timeout_s):
            receipt = await ledger.append(entry)
    except Exception as exc:  # noqa: BLE001 - whatever failed, the access must not happen
        log.error("audit.ledger_write_failed", action=action, exc_type=type(exc).__name__)
        raise LedgerUnavailable from None
    return receipt
