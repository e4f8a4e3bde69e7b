"""Reveal requests: an officer's request to reveal an identified reporter, approved by a second officer."""

from __future__ import annotations

import sqlalchemy as sa

from services.reports.adapters.db import UtcDateTime, metadata
from services.reports.casefile.tables import of_report, sealed

reveal_requests = sa.Table(
    "reveal_requests", metadata,
    *of_report(),
    sa.Column("requested_by", sa.String(128), nullable=False),
    sa.Column("approved_by", sa.String(128), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),  # pending | approved
    *sealed("sealed_reason"),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("approved_at", UtcDateTime(), nullable=True),
)
