"""Known-answer vectors: every one lives in tests/vectors/ as JSON (docs quote them; tests read them here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> dict[str, Any]:
    """tests/vectors/<name>.json."""
    data: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text())
    return data
