"""The users projection's table."""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

# Projection of the gateway's users: only the facts matching needs (ids and flags, no names).
users = sa.Table(
    "users", metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("roles", sa.String(200), nullable=False, server_default=""),
    sa.Column("vetted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("agreements_accepted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
