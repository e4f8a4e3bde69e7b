import sqlalchemy as sa

from services.gateway.adapters.db import metadata, utc

oauth_clients = sa.Table(
    "oauth_clients", metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=True),  # SHA-256 of a 256-bit random secret; NULL: public
    sa.Column("redirect_uris", sa.Text, nullable=False),  # JSON list, matched exactly
    sa.Column("post_logout_redirect_uris", sa.Text, nullable=False),  # JSON list
    sa.Column("grant_types", sa.Text, nullable=False),  # JSON list
    sa.Column("scope", sa.String(500), nullable=False),
    sa.Column("created_at", utc(), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("family_id", sa.String(32), nullable=False, index=True),
    sa.Column("user_id", sa.String(32), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(500), nullable=False),
    sa.Column("sid", sa.String(32), nullable=True),
    sa.Column("auth_time", sa.Integer, nullable=False),
    sa.Column("created_at", utc(), nullable=False),
    sa.Column("expires_at", utc(), nullable=False),
    sa.Column("used_at", utc(), nullable=True),
    sa.Column("revoked_at", utc(), nullable=True),
)
