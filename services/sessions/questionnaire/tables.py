"""The matching questionnaire (versions written by admins) and each member's sealed answers.

A member's answers are two sealed objects: the ordinary answers, and the special-category ones (identity:
e.g. ethnicity, gender, faith), kept apart so that withdrawing consent shreds exactly those (the three
`special_*` columns set to NULL) and nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

TS = sa.DateTime(timezone=True)

questionnaires = sa.Table(
    "questionnaires", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("questions", sa.Text, nullable=False),  # JSON: the questions, their options and weights
    sa.Column("published_by", sa.String(64), nullable=False),
    sa.Column("published_at", TS, nullable=False),
)

answers = sa.Table(
    "questionnaire_answers", metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),  # the questionnaire they answered
    sa.Column("kek_version", sa.Integer, nullable=False),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("special_kek_version", sa.Integer, nullable=True),
    sa.Column("special_wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("special_sealed", sa.LargeBinary, nullable=True),
    sa.Column("special_consent_at", TS, nullable=True),  # NULL: no consent, nothing special kept
    sa.Column("updated_at", TS, nullable=False),
)
