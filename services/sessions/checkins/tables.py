"""Check-ins' tables: the programme's setting (one row), each member's plan (cadence and next due date) and
the answers (the free-text comment sealed: it is read by admins and by its author only)."""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

TS = sa.DateTime(timezone=True)

SETTINGS_ROW = 1
DEFAULT_EVERY_WEEKS = 4
DEFAULT_GRACE_DAYS = 7

settings = sa.Table(
    "checkin_settings", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # one row: SETTINGS_ROW
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("default_every_weeks", sa.Integer, nullable=False, server_default=str(DEFAULT_EVERY_WEEKS)),
    sa.Column("grace_days", sa.Integer, nullable=False, server_default=str(DEFAULT_GRACE_DAYS)),
    sa.Column("updated_by", sa.String(64), nullable=True),
    sa.Column("updated_at", TS, nullable=True),
)

plans = sa.Table(
    "checkin_plans", metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),  # one plan per member
    sa.Column("every_weeks", sa.Integer, nullable=False),
    sa.Column("next_due_at", TS, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),  # compare-and-set on answer/change
)

answers = sa.Table(
    "checkin_answers", metadata,
    sa.Column("checkin_id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("due_at", TS, nullable=False),  # the due date this answer was for
    sa.Column("answered_at", TS, nullable=False),
    sa.Column("progressing", sa.String(8), nullable=False),  # yes | partly | no
    sa.Column("uncomfortable", sa.Boolean, nullable=False),
    sa.Column("wants_contact", sa.Boolean, nullable=False),
    sa.Column("needs_attention", sa.Boolean, nullable=False),
    sa.Column("acknowledged_by", sa.String(64), nullable=True),
    sa.Column("acknowledged_at", TS, nullable=True),
    # The comment, sealed with subject "checkin:<checkin_id>" and kind "checkin"; NULL: no comment.
    sa.Column("kek_version", sa.Integer, nullable=True),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("sealed", sa.LargeBinary, nullable=True),
)
