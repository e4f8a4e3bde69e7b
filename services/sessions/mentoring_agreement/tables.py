"""The mentoring agreement's tables: the programme's template versions (published by admins) and each
pairing's agreement versions, every one sealed with its own data key.

No column holds an agreement's text: only the sealed bytes. Shredding a pairing's agreement sets the three
sealed columns of all its versions to NULL (service.shred_pairing_agreements); the version numbers, who
edited and who accepted stay, as ids and times only.
"""

from __future__ import annotations

import sqlalchemy as sa

from services.sessions.adapters.db import metadata

TS = sa.DateTime(timezone=True)

agreement_templates = sa.Table(
    "pair_agreement_templates", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2...; no row: built-in (0)
    sa.Column("sections", sa.Text, nullable=False),  # JSON list of {key, title, guidance}: no member's data
    sa.Column("published_by", sa.String(64), nullable=False),
    sa.Column("published_at", TS, nullable=False),
)

pair_agreements = sa.Table(
    "pair_agreements", metadata,
    sa.Column("pairing_id", sa.String(32), sa.ForeignKey("pairings.pairing_id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2... per pairing
    sa.Column("template_version", sa.Integer, nullable=False),  # the template it was written under
    sa.Column("edited_by", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("mentor_accepted_at", TS, nullable=True),
    sa.Column("mentee_accepted_at", TS, nullable=True),
    # The sections' texts, sealed (adapters/vault.py): all three NULL once shredded.
    sa.Column("kek_version", sa.Integer, nullable=True),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=True),
    sa.Column("sealed", sa.LargeBinary, nullable=True),
)
