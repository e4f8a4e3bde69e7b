"""The members' profiles: what a mentor publishes to the programme's mentees, and a mentee's own."""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

profiles = sa.Table(
    "profiles", metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("bio", sa.Text, nullable=False, server_default=""),  # a mentor's is shown to mentees
    sa.Column("areas", sa.Text, nullable=False, server_default="[]"),  # JSON list of short labels
    sa.Column("languages", sa.Text, nullable=False, server_default="[]"),  # JSON list of language tags
    sa.Column("capacity", sa.Integer, nullable=True),  # mentors: mentees at once; NULL for mentees
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
