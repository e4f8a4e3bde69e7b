import sqlalchemy as sa

from services.gateway.adapters.db import metadata, utc

signing_keys = sa.Table(
    "signing_keys", metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("purpose", sa.String(16), nullable=False, index=True),  # "assertion" | "token"
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("private_jwk", sa.LargeBinary, nullable=False),  # Fernet-sealed when a KEK is configured
    sa.Column("public_jwk", sa.Text, nullable=False),
    sa.Column("created_at", utc(), nullable=False),  # published in the JWKS from here on
    sa.Column("active_from", utc(), nullable=False),  # signs from here on (unless a newer key does)
    sa.Column("remove_after", utc(), nullable=True),  # dropped from the JWKS after this
)
