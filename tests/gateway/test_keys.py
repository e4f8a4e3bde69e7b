"""Private signing keys and TOTP secrets are sealed at rest when a key-encryption key is configured."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from services.gateway.keys.service import KeyRing, KeyUnavailable, Sealer
from services.gateway.keys.tables import signing_keys
from shared import db as dbmod

pytestmark = pytest.mark.integration


def test_sealer_round_trip_and_opaque_failure() -> None:
    kek = Fernet.generate_key().decode()
    sealed = Sealer(kek).seal(b"private")
    assert b"private" not in sealed and Sealer(kek).open(sealed) == b"private"
    with pytest.raises(KeyUnavailable):
        Sealer(Fernet.generate_key().decode()).open(sealed)
    with pytest.raises(KeyUnavailable):
        Sealer("").open(sealed)  # a sealed row without the KEK is unreadable, not silently wrong
    assert Sealer(kek).open(Sealer("").seal(b"legacy")) == b"legacy"  # rows written before a KEK was set


async def test_private_keys_sealed_in_the_database(gateway_db: Callable[..., str]) -> None:
    engine = dbmod.create_engine(gateway_db("g"))
    try:
        kek = Fernet.generate_key().decode()
        ring = KeyRing(engine, "assertion", Sealer(kek), clock=lambda: 1_800_000_000.0, rotate_s=86_400,
                       publish_ahead_s=0, retain_s=95)
        await ring.maintain()
        jwks = ring.jwks()
        assert len(jwks["keys"]) == 1 and "d" not in jwks["keys"][0]
        async with engine.connect() as conn:
            row = (await conn.execute(sa.select(signing_keys))).one()
        assert row.private_jwk.startswith(b"fernet:") and b'"d"' not in row.private_jwk
        other = KeyRing(engine, "assertion", Sealer(Fernet.generate_key().decode()), clock=lambda: 1_800_000_000.0,
                        rotate_s=86_400, publish_ahead_s=0, retain_s=95)
        with pytest.raises(KeyUnavailable):
            await other.load()
        # Due rotation: a successor is published ahead, the old key is kept for `retain_s` after handover.
        later = KeyRing(engine, "assertion", Sealer(kek), clock=lambda: 1_800_000_000.0 + 86_400,
                        rotate_s=86_400, publish_ahead_s=600, retain_s=95)
        await later.maintain()
        assert len(later.jwks()["keys"]) == 2 and later.current().kid == jwks["keys"][0]["kid"]
    finally:
        await engine.dispose()
