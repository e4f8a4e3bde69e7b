"""The gateway's account tables. The schema is the migrations'; the helpers below only spell once what several
tables share (whose a row is, instants, single-use things, one row per person and key)."""

from typing import Any

import sqlalchemy as sa

from services.gateway.adapters.db import metadata, utc


def user_key(**options: Any) -> sa.Column[str]:
    """The person a row belongs to (users.id): their rows go when they do (ON DELETE CASCADE)."""
    return sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), **options)


def instant(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    """A point in time, stored in UTC."""
    return sa.Column(name, utc(), nullable=nullable)


def single_use(name: str, key: sa.Column[Any], *columns: sa.Column[Any]) -> sa.Table:
    """A table of things a person can use once: `key`, then whose it is (looked up by person), then `columns`,
    and last `used_at` (None until used)."""
    return sa.Table(name, metadata, key, user_key(nullable=False, index=True), *columns,
                    instant("used_at", nullable=True))


def per_person(name: str, key: sa.Column[Any], *columns: sa.Column[Any]) -> sa.Table:
    """A table with at most one row per person and `key`: whose it is, `key`, then `columns`."""
    return sa.Table(name, metadata, user_key(primary_key=True), key, *columns)


users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # invited | active | suspended | erased
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("totp_secret", sa.LargeBinary, nullable=True),  # sealed like private keys
    # pending (issued, not yet proven with a code: not a second factor yet) | confirmed; None: no secret
    sa.Column("totp_status", sa.String(16), nullable=True),
    instant("totp_issued_at", nullable=True),  # a pending secret expires (enrolment.py)
    sa.Column("vetted", sa.Boolean, nullable=False, default=False),
    sa.Column("agreements_current", sa.Boolean, nullable=False, default=False),
    # Tokens issued before this instant are dead (suspension, logout everywhere).
    instant("tokens_valid_after", nullable=True),
    # The person's IANA time zone (e.g. Europe/London), in which the web app shows and reads every time;
    # None until set (the web app sets the browser's at the first sign-in).
    sa.Column("time_zone", sa.String(64), nullable=True),
    sa.Column("language", sa.String(8), nullable=True),  # en | fr; NULL: the browser's
    instant("created_at"),
    instant("updated_at"),
)

user_roles = per_person("user_roles", sa.Column("role", sa.String(32), primary_key=True))

# One-time codes that stand in for an authenticator code (a lost phone): only their hashes are kept.
recovery_codes = single_use(
    "recovery_codes", sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    instant("created_at"),
)

invitations = single_use(
    "invitations", sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("created_by", sa.String(64), nullable=False),
    instant("created_at"),
    instant("expires_at"),
)

vetting_checks = per_person(
    "vetting_checks", sa.Column("item", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | passed | failed
    sa.Column("recorded_by", sa.String(64), nullable=False),
    instant("recorded_at"),
)

agreements = sa.Table(
    "agreements", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("published_by", sa.String(64), nullable=False),
    instant("published_at"),
    sa.UniqueConstraint("kind", "version", name="uq_agreements_kind_version"),
)

agreement_acceptances = per_person(
    "agreement_acceptances",
    sa.Column("agreement_id", sa.String(32), sa.ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    instant("accepted_at"),
)
