"""The programme's resources: guides, templates and policies admins publish for every member."""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

resources = sa.Table(
    "resources", metadata,
    sa.Column("resource_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # guide | template | policy
    sa.Column("language", sa.String(8), nullable=False),  # en | fr
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("summary", sa.Text, nullable=False, server_default=""),
    sa.Column("body", sa.Text, nullable=False, server_default=""),  # plain text, shown as paragraphs
    sa.Column("url", sa.String(2000), nullable=True),  # https only
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
