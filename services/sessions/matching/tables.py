"""Matching's tables: the programme's weights, mentees' preferences, declared conflicts of interest and
matching rounds (their result sealed: it is derived from special-category answers)."""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

TS = sa.DateTime(timezone=True)

weights = sa.Table(
    "matching_weights", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # one row: 1
    sa.Column("weights", sa.Text, nullable=False),  # JSON: preference (3), language, areas
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

preferences = sa.Table(
    "matching_preferences", metadata,
    sa.Column("mentee_id", sa.String(64), primary_key=True),
    sa.Column("choices", sa.Text, nullable=False, server_default="[]"),  # JSON list of up to 3 mentor ids
    sa.Column("match_me", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", TS, nullable=False),
)

conflicts = sa.Table(
    "matching_conflicts", metadata,
    sa.Column("mentee_id", sa.String(64), primary_key=True),
    sa.Column("mentor_id", sa.String(64), primary_key=True),
    sa.Column("declared_by", sa.String(64), nullable=False),
    sa.Column("declared_at", TS, nullable=False),
)

rounds = sa.Table(
    "matching_rounds", metadata,
    sa.Column("round_id", sa.String(32), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # draft | sent | discarded
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("closed_at", TS, nullable=True),
    sa.Column("kek_version", sa.Integer, nullable=False),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),  # JSON: assignments with their parts, unmatched
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
)
