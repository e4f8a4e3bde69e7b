"""Evaluation tables: members' sealed reflections, the survey's versions, who answered which version, and
the answers.

Who answered and what was answered are kept apart, with nothing to join them on: `evaluation_respondents`
holds (user, version, the day they answered) and says nothing of the answers; `evaluation_responses`
holds (a random id, version, the respondent's role, the sealed answers) and nothing of who or when. On
SQLite neither table has a rowid (WITHOUT ROWID: rows are stored by their primary key), so insertion
order, which would pair the n-th respondent with the n-th response, is not kept beside them either.
"""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

TS = sa.DateTime(timezone=True)

# A member's reflection on one of their pairings: private to its author (admins and the partner never
# read it). Sealed (adapters/vault.py) under "reflection:{pairing_id}:{author_id}"; erasing it deletes
# the row, and with it the only copy of its data key.
reflections = sa.Table(
    "evaluation_reflections", metadata,
    sa.Column("pairing_id", sa.String(32), sa.ForeignKey("pairings.pairing_id"), primary_key=True),
    sa.Column("author_id", sa.String(64), primary_key=True),
    sa.Column("kek_version", sa.Integer, nullable=False),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

surveys = sa.Table(
    "evaluation_surveys", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("questions", sa.Text, nullable=False),  # JSON: the questions and their options (no answers)
    sa.Column("published_by", sa.String(64), nullable=False),
    sa.Column("published_at", TS, nullable=False),
)

# Who answered a version (once each): a day, never a time, and no link to the answers.
respondents = sa.Table(
    "evaluation_respondents", metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, sa.ForeignKey("evaluation_surveys.version"), primary_key=True),
    sa.Column("responded_on", sa.Date, nullable=False),
    sqlite_with_rowid=False,
)

# What was answered: sealed under "survey-response:{response_id}"; no user, no time.
responses = sa.Table(
    "evaluation_responses", metadata,
    sa.Column("response_id", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, sa.ForeignKey("evaluation_surveys.version"), nullable=False, index=True),
    sa.Column("role", sa.String(8), nullable=False),  # mentor | mentee
    sa.Column("kek_version", sa.Integer, nullable=False),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
