"""Only shared/crypto/primitives.py may import cryptography.hazmat (ruff TID251 too; this guards shared/)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HAZMAT = re.compile(r"^\s*(from|import)\s+cryptography\.hazmat", re.MULTILINE)


def test_no_hazmat_outside_primitives_in_shared() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "shared").rglob("*.py")
        if HAZMAT.search(path.read_text(encoding="utf-8")) and path != ROOT / "shared" / "crypto" / "primitives.py"
    ]
    assert offenders == []
