"""Capturing the JSON log lines a test's apps write (for canaries and for the truth of each line)."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

from shared.logging import configure_logging


@contextlib.contextmanager
def captured_json_logs(level: str, service: str = "gateway") -> Iterator[io.StringIO]:
    """Every log line at `level` and above as JSON into a buffer; the previous handlers come back after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    out = io.StringIO()
    configure_logging(level, json=True, stream=out, service=service)
    try:
        yield out
    finally:
        root.handlers[:], level_before = saved
        root.setLevel(level_before)
