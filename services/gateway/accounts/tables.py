import sqlalchemy as sa

from services.gateway.adapters.db import metadata, utc

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
    sa.Column("totp_issued_at", utc(), nullable=True),  # a pending secret expires (enrolment.py)
    sa.Column("vetted", sa.Boolean, nullable=False, default=False),
    sa.Column("agreements_current", sa.Boolean, nullable=False, default=False),
    # Tokens issued before this instant are dead (suspension, logout everywhere).
    sa.Column("tokens_valid_after", utc(), nullable=True),
    # The person's IANA time zone (e.g. Europe/London), in which the web app shows and reads every time;
    # None until set (the web app sets the browser's at the first sign-in).
    sa.Column("time_zone", sa.String(64), nullable=True),
    sa.Column("created_at", utc(), nullable=False),
    sa.Column("updated_at", utc(), nullable=False),
)

user_roles = sa.Table(
    "user_roles", metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.String(32), primary_key=True),
)

# One-time codes that stand in for an authenticator code (a lost phone): only their hashes are kept.
recovery_codes = sa.Table(
    "recovery_codes", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("created_at", utc(), nullable=False),
    sa.Column("used_at", utc(), nullable=True),
)

invitations = sa.Table(
    "invitations", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", utc(), nullable=False),
    sa.Column("expires_at", utc(), nullable=False),
    sa.Column("used_at", utc(), nullable=True),
)

vetting_checks = sa.Table(
    "vetting_checks", metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("item", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | passed | failed
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("recorded_at", utc(), nullable=False),
)

agreements = sa.Table(
    "agreements", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("published_by", sa.String(64), nullable=False),
    sa.Column("published_at", utc(), nullable=False),
    sa.UniqueConstraint("kind", "version", name="uq_agreements_kind_version"),
)

agreement_acceptances = sa.Table(
    "agreement_acceptances", metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("agreement_id", sa.String(32), sa.ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("accepted_at", utc(), nullable=False),
)
