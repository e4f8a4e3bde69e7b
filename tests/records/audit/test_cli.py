"""`tandem audit verify` / `checkpoint`: exit codes and the first bad seq on the console."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from deploy.cli import main as tandem
from services.records.app import MIGRATIONS
from services.records.audit.cli import main
from services.records.audit.keys import AuditKeys
from services.records.audit.service import Ledger
from shared.db import create_engine, upgrade
from tests.support.audit import StepClock, entry

pytestmark = pytest.mark.integration


async def _prepare(db_url: str, key_dir: Path, n: int) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine, MIGRATIONS)
        ledger = Ledger(engine, AuditKeys.load_or_create(key_dir), clock=StepClock())
        for i in range(1, n + 1):
            await ledger.append(entry(i, reason="r" if i == 2 else None))
    finally:
        await engine.dispose()


async def _sql(db_url: str, statement: str, **params: object) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), params)
    finally:
        await engine.dispose()


def test_verify_and_checkpoint_commands(db_url: str, key_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_prepare(db_url, key_dir, 6))
    args = ["--database-url", db_url, "--key-dir", str(key_dir), "--no-archive"]
    assert main(["verify", *args]) == 0
    assert "OK: 6 entries, head seq 6, 0 checkpoints" in capsys.readouterr().out
    assert tandem(["audit", "checkpoint", *args]) == 0  # through the `tandem` command
    assert "checkpoint seq 6" in capsys.readouterr().out
    assert tandem(["audit", "verify", *args]) == 0
    assert "1 checkpoints" in capsys.readouterr().out

    asyncio.run(_sql(db_url, "UPDATE audit_entries SET target = 'record:999' WHERE seq = 4"))
    assert main(["audit", "verify", *args]) == 1
    err = capsys.readouterr().err
    assert "FAIL: first bad entry seq 4" in err
    assert "record:999" not in err  # names the row, never echoes values

    asyncio.run(_sql(db_url, "UPDATE audit_checkpoints SET signature = :s", s=b"\x01" * 64))
    assert main(["verify", *args]) == 1
    assert "signature invalid" in capsys.readouterr().err


def test_verify_cannot_run_without_keys_or_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A SQLite database that is not there is named, not created by reading it.
    for command in ("verify", "checkpoint", "problems"):
        assert main([command, "--database-url", f"sqlite:///{tmp_path}/none.db", "--no-archive"]) == 2
        assert f"no database at {tmp_path}/none.db" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "none.db").touch()  # an empty database: the keys are checked before it is read
    # The URLs name databases that are never reached (the keys are checked first): no backend to choose.
    assert main(["verify", "--database-url", f"sqlite:///{tmp_path}/none.db", "--key-dir", str(tmp_path / "k"),
                 "--no-archive"]) == 2
    assert "no checkpoint-signing" in capsys.readouterr().err
    assert main(["checkpoint", "--database-url", f"sqlite:///{tmp_path}/none.db", "--key-dir", str(tmp_path / "k"),
                 "--no-archive"]) == 2
    assert "ledger.key: missing" in capsys.readouterr().err
    assert not (tmp_path / "k").exists()  # no key was minted
    (tmp_path / "k").mkdir()
    AuditKeys.load_or_create(tmp_path / "k")
    assert main(["verify", "--database-url", "postgresql://127.0.0.1:1/none", "--key-dir", str(tmp_path / "k"),
                 "--no-archive"]) == 2
    assert "could not verify" in capsys.readouterr().err


def test_problems_lists_uncatalogued_entries_without_values(db_url: str, key_dir: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_prepare(db_url, key_dir, 3))  # `record.read` is no catalogued action
    asyncio.run(_sql(db_url, "UPDATE audit_entries SET action = 'note.create' WHERE seq = 2"))
    capsys.readouterr()
    assert main(["problems", "--database-url", db_url]) == 1
    out = capsys.readouterr()
    listed = [line for line in out.out.splitlines() if line.startswith("seq ")]
    assert listed == [f"seq {i} source records action record.read: not in the audit catalogue" for i in (1, 3)]
    assert "user:" not in out.out + out.err and "record:" not in out.out + out.err
    asyncio.run(_sql(db_url, "UPDATE audit_entries SET action = 'note.create'"))
    assert main(["problems", "--database-url", db_url]) == 0
