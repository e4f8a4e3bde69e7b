"""Signing keys with rotation: identity assertions (Ed25519) and OAuth access/ID tokens (ES256).

A key is *published* (in the JWKS) from `created_at`, *signs* from `active_from` (a new key is published
`publish_ahead_s` before it signs, so verifiers that cached the JWKS already know it), and is dropped
from the JWKS `retain_s` after a newer key took over (by then every token it signed has expired).
Private keys are kept in the gateway database, sealed with Fernet under GATEWAY_KEY_ENCRYPTION_KEY.
Several gateway instances share the table; each reloads it every `key_check_interval_s`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OKPKey
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.keys.tables import signing_keys
from shared.clock import EpochClock
from shared.logging import get_logger
from shared.tasks import cancel

log = get_logger("tandem.gateway.keys")

ALGS = {"assertion": "Ed25519", "token": "ES256"}


class KeyUnavailable(Exception):
    """A private key cannot be unsealed (wrong or missing GATEWAY_KEY_ENCRYPTION_KEY)."""


class Sealer:
    """Seals small secrets at rest (private JWKs, TOTP secrets). Without a KEK it stores them marked
    `plain:` so a later configured KEK does not make existing rows unreadable.

    Rotation: the current KEK seals; `previous` KEKs only open (rows sealed before the rotation) until
    `reseal` has moved every row to the current one (`python -m services.gateway reseal`)."""

    def __init__(self, kek: str, previous: tuple[str, ...] = ()) -> None:
        self._fernet = Fernet(kek.encode()) if kek else None
        if self._fernet is None:
            log.warning("keys.unsealed_storage", hint="set GATEWAY_KEY_ENCRYPTION_KEY in production")
        if previous and self._fernet is None:
            raise ValueError("previous key-encryption keys need a current one")
        self._any = MultiFernet([self._fernet, *(Fernet(k.encode()) for k in previous)]) if self._fernet else None

    def seal(self, data: bytes) -> bytes:
        if self._fernet is None:
            return b"plain:" + data
        return b"fernet:" + self._fernet.encrypt(data)

    def open(self, sealed: bytes) -> bytes:
        if sealed.startswith(b"plain:"):
            return sealed[len(b"plain:"):]
        if sealed.startswith(b"fernet:") and self._any is not None:
            try:
                return self._any.decrypt(sealed[len(b"fernet:"):])
            except InvalidToken:
                raise KeyUnavailable("cannot unseal") from None
        raise KeyUnavailable("cannot unseal")

    def current(self, sealed: bytes) -> bool:
        """Whether `sealed` is already sealed under the current KEK (nothing to reseal)."""
        if self._fernet is None:
            return sealed.startswith(b"plain:")
        if not sealed.startswith(b"fernet:"):
            return False
        try:
            self._fernet.decrypt(sealed[len(b"fernet:"):])
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: bytes) -> bytes:
        """The same secret sealed under the current KEK (raises KeyUnavailable if no known KEK opens it)."""
        return self.seal(self.open(sealed))


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass
class SigningKey:
    kid: str
    key: Any  # OKPKey | ECKey with its private part
    alg: str
    created_at: float
    active_from: float
    remove_after: float | None


class KeyRing:
    """The keys of one purpose, cached in memory and reloaded from the database."""

    def __init__(self, engine: AsyncEngine, purpose: str, sealer: Sealer, *, clock: EpochClock, rotate_s: int,
                 publish_ahead_s: int, retain_s: int) -> None:
        self.engine = engine
        self.purpose = purpose
        self.alg = ALGS[purpose]
        self.sealer = sealer
        self.clock = clock
        self.rotate_s = rotate_s
        self.publish_ahead_s = publish_ahead_s
        self.retain_s = retain_s
        self._keys: list[SigningKey] = []
        self._public: KeySet = KeySet([])
        self._lock = asyncio.Lock()

    # -- reading ---------------------------------------------------------------------------------

    async def load(self) -> None:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(signing_keys).where(signing_keys.c.purpose == self.purpose)
                                       .order_by(signing_keys.c.active_from))).mappings().all()
        keys = []
        for row in rows:
            private = json.loads(self.sealer.open(row["private_jwk"]))
            key = OKPKey.import_key(private) if self.alg == "Ed25519" else ECKey.import_key(private)
            keys.append(SigningKey(kid=row["kid"], key=key, alg=row["alg"], created_at=_ts(row["created_at"]) or 0.0,
                                   active_from=_ts(row["active_from"]) or 0.0,
                                   remove_after=_ts(row["remove_after"])))
        self._keys = keys
        self._rebuild()

    def _published(self, now: float) -> list[SigningKey]:
        return [k for k in self._keys if k.created_at <= now and (k.remove_after is None or k.remove_after > now)]

    def _rebuild(self) -> None:
        now = self.clock()
        self._public = KeySet([k.key for k in self._published(now)])

    def current(self) -> SigningKey:
        now = self.clock()
        live = [k for k in self._keys if k.active_from <= now and (k.remove_after is None or k.remove_after > now)]
        if not live:
            raise KeyUnavailable(f"no active {self.purpose} key")
        return live[-1]

    def jwks(self) -> dict[str, Any]:
        now = self.clock()
        return {"keys": [{**k.key.as_dict(private=False), "alg": k.alg, "use": "sig"} for k in self._published(now)]}

    def publishes(self, kid: str) -> bool:
        """Whether the key `kid` is still published (a token it signed may still be accepted)."""
        now = self.clock()
        return any(k.kid == kid for k in self._published(now))

    def verification_keys(self) -> KeySet:
        self._rebuild()
        return self._public

    # -- signing -----------------------------------------------------------------------------------

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        key = self.current()
        return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": typ}, claims, key.key, algorithms=[key.alg])

    # -- rotation ------------------------------------------------------------------------------------

    def _generate(self) -> Any:
        kid = f"{self.purpose[:1]}-{uuid.uuid4().hex[:16]}"
        if self.alg == "Ed25519":
            return OKPKey.generate_key("Ed25519", parameters={"kid": kid})
        return ECKey.generate_key("P-256", parameters={"kid": kid})

    async def _insert(self, active_from: float) -> str:
        now = self.clock()
        key = self._generate()
        async with self.engine.begin() as conn:
            # The key it replaces stays published until the tokens it signed have expired.
            await conn.execute(sa.update(signing_keys)
                               .where(signing_keys.c.purpose == self.purpose, signing_keys.c.remove_after.is_(None))
                               .values(remove_after=_dt(active_from + self.retain_s)))
            await conn.execute(sa.insert(signing_keys).values(
                kid=key.kid, purpose=self.purpose, alg=self.alg,
                private_jwk=self.sealer.seal(json.dumps(key.as_dict(private=True)).encode()),
                public_jwk=json.dumps(key.as_dict(private=False)), created_at=_dt(now), active_from=_dt(active_from)))
            await conn.execute(sa.delete(signing_keys).where(signing_keys.c.purpose == self.purpose,
                                                             signing_keys.c.remove_after < _dt(now)))
        log.info("keys.created", purpose=self.purpose, kid=key.kid, active_from=int(active_from))
        return str(key.kid)

    async def rotate(self, *, publish_ahead_s: int | None = None) -> str:
        """Create the next key now: published at once, signing after `publish_ahead_s`."""
        async with self._lock:
            ahead = self.publish_ahead_s if publish_ahead_s is None else publish_ahead_s
            kid = await self._insert(self.clock() + ahead)
            await self.load()
            return kid

    async def maintain(self) -> None:
        """Reload; create the first key, or the next one when the current one is due."""
        async with self._lock:
            await self.load()
            now = self.clock()
            if not self._keys:
                await self._insert(now)
                await self.load()
                return
            newest = self._keys[-1]
            if newest.active_from > now:
                return  # a successor is already published
            if now - newest.active_from >= self.rotate_s - self.publish_ahead_s:
                await self._insert(max(now + self.publish_ahead_s, newest.active_from + self.rotate_s))
                await self.load()


class Keys:
    """Both key rings and the task that keeps them fresh."""

    def __init__(self, assertion: KeyRing, token: KeyRing, interval_s: float) -> None:
        self.assertion = assertion
        self.token = token
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.assertion.maintain()
        await self.token.maintain()
        self._task = asyncio.create_task(self._run(), name="gateway-keys")

    async def stop(self) -> None:
        await cancel(self._task)

    async def _run(self) -> None:
        while True:
            # Jitter keeps several instances from rotating in the same instant.
            await asyncio.sleep(self.interval_s * (0.8 + secrets.randbelow(400) / 1000))
            for ring in (self.assertion, self.token):
                try:
                    await ring.maintain()
                except Exception as exc:  # noqa: BLE001 - DB hiccup: keep the keys we have, retry later
                    log.warning("keys.maintain_failed", purpose=ring.purpose, exc_type=type(exc).__name__)
