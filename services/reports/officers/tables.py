"""The officers projection's table."""

from __future__ import annotations

import sqlalchemy as sa

from services.reports.adapters.db import UtcDateTime, metadata

# Projection of tandem.user, kept only for accounts that hold (or held) the safeguarding role:
# assignment must go to an active officer. Nobody else's account id is recorded here.
officers = sa.Table(
    "officers", metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("safeguarding", sa.Boolean, nullable=False),
    sa.Column("suspended", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
