"""Multipart uploads of recordings that the store holds open: written when one starts, removed when it
completes or is aborted. What is left is what a failed or killed upload could not remove; the sweeper
aborts it (`recordings/orphans.py`). Keys and upload ids only: nothing of a recording."""

import sqlalchemy as sa

from services.records.adapters.db import metadata

open_uploads = sa.Table(
    "open_uploads", metadata,
    sa.Column("object_key", sa.String(255), primary_key=True),
    sa.Column("upload_id", sa.String(1024), primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
