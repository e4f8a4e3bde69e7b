"""docs/operations.md covers every configuration variable of every service and the operator tasks.

Compares the settings classes with the document itself (not only the generated blocks), so a setting
added without regenerating the tables fails here: run `.venv/bin/python -m deploy.docs`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from deploy.docs import SETTINGS
from shared.config import describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text()


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_variable_of_the_service_is_documented(service: str, text: str) -> None:
    cls = SETTINGS[service]
    missing = [name for name, _, _ in describe(cls, cls.PREFIX) if f"`{name}`" not in text]
    assert not missing, f"undocumented in docs/operations.md: {missing}; run `.venv/bin/python -m deploy.docs`"


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_documented_defaults_and_help_match_the_code(service: str, text: str) -> None:
    cls = SETTINGS[service]
    for name, default, help_text in describe(cls, cls.PREFIX):
        row = re.search(rf"^\| `{re.escape(name)}` \| (.*)$", text, re.MULTILINE)
        assert row, name
        assert f"`{default.replace('|', chr(92) + '|')}`" in row.group(1), (name, default)
        assert help_text.replace("|", "\\|") in row.group(1), name


def test_no_documented_variable_is_stale(text: str) -> None:
    known = {row[0] for cls in SETTINGS.values() for row in describe(cls, cls.PREFIX)}
    prefixes = tuple(f"{cls.PREFIX}_" for cls in SETTINGS.values())
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|", text, re.MULTILINE)
    stale = [name for name in rows if name.startswith(prefixes) and name not in known]
    assert not stale, f"documented but no longer a setting: {stale}"


def test_secret_settings_are_documented_as_files(text: str) -> None:
    assert "_FILE" in text
    for cls in SETTINGS.values():
        for field in dataclasses.fields(cls):
            if field.metadata.get("secret"):
                assert f"{cls.PREFIX}_{field.name.upper()}" in text


@pytest.mark.parametrize(
    "phrases",
    [
        # deploy, validate
        ("## Deploy with Compose", "## Deploy on Kubernetes", "python -m deploy.validate", "make_secrets.py"),
        # scale out: what scales, what must be single
        ("## Scale out", "Must be single", "keyring", "SKIP LOCKED", "RECORDS_SWEEP_LEASE_S"),
        # back up and restore, and why the keys matter
        ("## Back up and restore", "pg_dump", "Without the keyrings every backup is useless", "retention sweep"),
        # rotate keys
        ("## Rotate keys", "tandem keys rotate", "tandem keys rewrap", "tandem keys retire"),
        # the audit ledger
        ("## Verify the audit ledger", "tandem audit verify"),
        # breach response (seed: cooperate and report under GDPR)
        ("## Respond to a breach", "72 hours", "Information Commissioner's Office", "PIPEDA",
         "real risk of significant harm", "cooperate fully"),
        # upgrades
        ("## Upgrade with migrations", "migrate", "expand then contract"),
    ],
)
def test_operator_tasks_are_covered(phrases: tuple[str, ...], text: str) -> None:
    missing = [p for p in phrases if p not in text]
    assert not missing, missing


def test_internal_links_resolve(text: str) -> None:
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
               for h in re.findall(r"^#{2,4} (.+)$", text, re.MULTILINE)}
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, target
