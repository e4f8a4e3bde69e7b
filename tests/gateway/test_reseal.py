"""Rotating GATEWAY_KEY_ENCRYPTION_KEY: the former key still opens rows, `reseal` moves every sealed secret to
the new key, and afterwards the old key is not needed (nor enough)."""

from __future__ import annotations

import dataclasses
import json
import time

import pyotp
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from services.gateway.accounts.second_factor import SecondFactor
from services.gateway.accounts.tables import users
from services.gateway.cli import gateway, parser, run
from services.gateway.config import Settings
from services.gateway.keys.tables import signing_keys
from shared import db as dbmod
from shared.config import ConfigError, load_settings
from tests.support.gateway import PASSWORD

pytestmark = pytest.mark.integration


async def _sealed(settings: Settings) -> list[bytes]:
    engine = dbmod.create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            keys = [r[0] for r in await conn.execute(sa.select(signing_keys.c.private_jwk))]
            totp = [r[0] for r in await conn.execute(sa.select(users.c.totp_secret)
                                                     .where(users.c.totp_secret.is_not(None)))]
        return keys + totp
    finally:
        await engine.dispose()


async def test_rotate_the_key_encryption_key_then_reseal(gw_settings: Settings,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = dataclasses.replace(gw_settings, key_encryption_key=old)
    async with gateway(before) as gw:
        await gw.keys.assertion.maintain()
        await gw.keys.token.maintain()
        kid = gw.keys.assertion.current().kid
        _, token, _ = await gw.invitations.create_user("test", "admin@example.org", "Admin", ["admin"])
        _, _, pending = await gw.invitations.accept(token, PASSWORD)
        assert pending is not None
        totp = pyotp.TOTP(pending.secret)
        await SecondFactor(gw.signin).confirm("admin@example.org", PASSWORD, totp.at(time.time() - 30))
    sealed_before = await _sealed(before)
    assert len(sealed_before) == 3 and all(s.startswith(b"fernet:") for s in sealed_before)

    # Step 1: the new key seals, the old one still opens (a rolling restart with both set).
    during = dataclasses.replace(before, key_encryption_key=new, previous_key_encryption_keys=(old,))
    async with gateway(during) as gw:
        await gw.keys.assertion.load()
        assert gw.keys.assertion.current().kid == kid
        assert (await gw.signin.authenticate("admin@example.org", PASSWORD, totp.now())).roles == ("admin",)

    # Step 2: reseal (and again: nothing left to do).
    assert await run(parser().parse_args(["reseal"]), during) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "signing_keys": 2, "totp_secrets": 1, "already_current": 0}
    assert await run(parser().parse_args(["reseal"]), during) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["already_current"] == 3
    assert not set(await _sealed(during)) & set(sealed_before)

    # Step 3: the old key is dropped; everything opens with the new one alone, nothing with the old one.
    after = dataclasses.replace(before, key_encryption_key=new)
    async with gateway(after) as gw:
        await gw.keys.assertion.load()
        assert gw.keys.assertion.current().kid == kid
        # (The next 30 s step: a code already used is refused as a replay.)
        code = totp.at(time.time() + 30)
        assert (await gw.signin.authenticate("admin@example.org", PASSWORD, code)).roles == ("admin",)
    # A reseal that meets a secret no configured key opens says so (exit 2) and changes nothing.
    stranger = dataclasses.replace(before, key_encryption_key=Fernet.generate_key().decode())
    assert await run(parser().parse_args(["reseal"]), stranger) == 2
    assert "none of the configured keys" in capsys.readouterr().err


def test_key_settings_are_checked() -> None:
    base = {"GATEWAY_ISSUER": "https://tandem.example.org"}
    with pytest.raises(ConfigError, match="GATEWAY_KEY_ENCRYPTION_KEY"):
        load_settings(Settings, "GATEWAY", {**base, "GATEWAY_KEY_ENCRYPTION_KEY": "not-a-fernet-key"})
    with pytest.raises(ConfigError, match="GATEWAY_PREVIOUS_KEY_ENCRYPTION_KEYS"):
        load_settings(Settings, "GATEWAY",
                      {**base, "GATEWAY_PREVIOUS_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode()})
    both = load_settings(Settings, "GATEWAY", {**base, "GATEWAY_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                                                "GATEWAY_PREVIOUS_KEY_ENCRYPTION_KEYS": ",".join(
                                                    Fernet.generate_key().decode() for _ in range(2))})
    assert len(both.previous_key_encryption_keys) == 2
