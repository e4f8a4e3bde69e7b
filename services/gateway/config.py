"""gateway settings, read from GATEWAY_* environment variables."""

import base64
import binascii
from dataclasses import dataclass
from typing import ClassVar

from shared.config import check, setting
from shared.settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings):
    PREFIX: ClassVar[str] = "GATEWAY"

    port: int = setting(8000, "TCP port of the HTTP server.")
    database_url: str = setting("sqlite:///var/gateway.db", "SQLAlchemy URL of the gateway database.")

    # -- public identity --------------------------------------------------------------------------
    issuer: str = setting("http://127.0.0.1:8000", "Public base URL of the gateway: OAuth/OIDC `iss` and links.")
    login_url: str = setting("/login", "Where the authorize endpoint sends a browser without a session.")
    invitation_url: str = setting("/invitation",
                                  "Web page that reads `#token=` (URL fragment) and posts it with the new password.")

    # -- internal services ------------------------------------------------------------------------
    sessions_url: str = setting("http://127.0.0.1:8001", "Base URL of the sessions service (HTTP; ws derived).")
    records_url: str = setting("http://127.0.0.1:8002", "Base URL of the records service.")
    reports_url: str = setting("http://127.0.0.1:8003", "Base URL of the reports service.")
    proxy_timeout_s: float = setting(60.0, "Upstream read timeout of proxied requests (streams: between chunks).")

    # -- keys ---------------------------------------------------------------------------------------
    key_encryption_key: str = setting(
        "", "Fernet key (urlsafe base64, 32 bytes) sealing private signing keys and TOTP secrets in the database. "
            "Empty: keys are stored unsealed (development only; a warning is logged).", secret=True)
    previous_key_encryption_keys: tuple[str, ...] = setting(
        (), "Former GATEWAY_KEY_ENCRYPTION_KEY values (comma-separated) during a rotation: they still open "
            "rows, never seal; remove them once `reseal` has run.", secret=True)
    assertion_lifetime_s: int = setting(30, "Lifetime of identity assertions forwarded to internal services.")
    assertion_rotate_s: int = setting(86_400, "Age after which the assertion signing key is replaced.")
    token_rotate_s: int = setting(30 * 86_400, "Age after which the access/ID token signing key is replaced.")
    key_publish_ahead_s: int = setting(600, "A new key is published in the JWKS this long before it signs.")
    key_check_interval_s: float = setting(30.0, "How often an instance reloads keys and rotates due ones.")

    # -- OAuth --------------------------------------------------------------------------------------
    access_token_lifetime_s: int = setting(300, "Lifetime of OAuth access tokens (seconds).")
    id_token_lifetime_s: int = setting(300, "Lifetime of OIDC ID tokens (seconds).")
    refresh_token_lifetime_s: int = setting(14 * 86_400, "Lifetime of a refresh token family (seconds).")
    refresh_grace_s: float = setting(5.0, "A refresh retried within this window returns the same new pair.")
    auth_code_lifetime_s: int = setting(60, "Lifetime of authorization codes (seconds).")

    # -- browser sessions ---------------------------------------------------------------------------
    cookie_name: str = setting("__Host-tandem", "Name of the browser session cookie.")
    cookie_secure: bool = setting(True, "Mark the session cookie Secure (required for the __Host- prefix).")
    cookie_samesite: str = setting("lax", "SameSite attribute of the session cookie: lax or strict.")
    session_idle_s: int = setting(1800, "A browser session ends after this much inactivity.")
    session_absolute_s: int = setting(43_200, "A browser session ends this long after sign-in, whatever happens.")

    # -- accounts -----------------------------------------------------------------------------------
    argon2_time_cost: int = setting(3, "argon2id iterations.")
    argon2_memory_kib: int = setting(65_536, "argon2id memory in KiB.")
    argon2_parallelism: int = setting(2, "argon2id lanes.")
    invitation_lifetime_s: int = setting(7 * 86_400, "How long a set-password invitation stays valid.")
    lockout_threshold: int = setting(5, "Failed sign-ins (per account) before backoff starts.")
    lockout_base_s: int = setting(30, "First lockout; doubles with each further failure.")
    lockout_max_s: int = setting(3600, "Longest lockout.")
    totp_issuer: str = setting("Tandem", "Issuer name shown in authenticator apps.")

    # -- upstream OIDC federation (optional) ------------------------------------------------------------
    federation_issuer: str = setting("", "Issuer URL of an upstream OpenID provider (Entra ID, Keycloak, another "
                                         "Tandem gateway); empty: federation off.")
    federation_client_id: str = setting("", "Our client id at the upstream provider.")
    federation_client_secret: str = setting("", "Our client secret at the upstream provider.", secret=True)
    federation_roles_claim: str = setting("roles", "UserInfo/ID-token claim listing the upstream roles.")
    federation_role_map: tuple[str, ...] = setting(
        (), "Upstream role to Tandem role, `upstream=tandem` pairs (comma-separated); empty: same names.")
    federation_provision: bool = setting(False, "Create unknown users on first federated sign-in (roles from "
                                                "the map); false: only invited accounts may use it.")

    # -- rate limits --------------------------------------------------------------------------------
    rate_limit_window_s: int = setting(60, "Window of the per-identity and per-IP rate limits.")
    rate_limit_per_identity: int = setting(1200, "Requests per window for one signed-in identity.")
    rate_limit_per_ip: int = setting(2400, "Requests per window from one client address.")
    auth_rate_limit_per_ip: int = setting(30, "Sign-in / token / invitation attempts per window per address.")
    metrics_token: str = setting("", "Bearer token a Prometheus scraper presents to read the gateway's `/metrics` "
                                     "(the gateway's port is public); empty: the gateway serves no metrics.",
                                 secret=True)
    auth_cache_s: float = setting(2.0, "How long the proxy may answer a repeated request's credentials from memory "
                                       "(changes reach every instance at once over Redis pub/sub); 0: never.")

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.issuer.startswith(("http://", "https://")) and not self.issuer.endswith("/"),
              "GATEWAY_ISSUER", "must be an http(s) URL without a trailing slash")
        for name in ("sessions_url", "records_url", "reports_url"):
            check(getattr(self, name).startswith(("http://", "https://")), f"GATEWAY_{name.upper()}",
                  "must be an http(s) URL")
        check(0 < self.assertion_lifetime_s <= 60, "GATEWAY_ASSERTION_LIFETIME_S", "must be 1-60")
        check(0 < self.access_token_lifetime_s <= 3600, "GATEWAY_ACCESS_TOKEN_LIFETIME_S",
              "must be 1-3600 (access tokens are short-lived)")
        check(0 <= self.refresh_grace_s <= 60, "GATEWAY_REFRESH_GRACE_S", "must be 0-60")
        check(0 < self.auth_code_lifetime_s <= 600, "GATEWAY_AUTH_CODE_LIFETIME_S", "must be 1-600")
        check(self.cookie_samesite in ("lax", "strict"), "GATEWAY_COOKIE_SAMESITE", "must be lax or strict")
        check(not self.cookie_name.startswith("__Host-") or self.cookie_secure, "GATEWAY_COOKIE_NAME",
              "the __Host- prefix requires GATEWAY_COOKIE_SECURE=true")
        check(0 < self.session_idle_s <= self.session_absolute_s, "GATEWAY_SESSION_IDLE_S",
              "must be positive and not longer than GATEWAY_SESSION_ABSOLUTE_S")
        check(self.argon2_memory_kib >= 8 and self.argon2_time_cost >= 1, "GATEWAY_ARGON2_MEMORY_KIB",
              "argon2 parameters too small")
        check(self.lockout_threshold >= 1, "GATEWAY_LOCKOUT_THRESHOLD", "must be at least 1")
        check(self.key_publish_ahead_s >= 0, "GATEWAY_KEY_PUBLISH_AHEAD_S", "must be >= 0")
        check(self.rate_limit_window_s >= 1, "GATEWAY_RATE_LIMIT_WINDOW_S", "must be at least 1")
        check(all(_fernet_key(k) for k in (self.key_encryption_key, *self.previous_key_encryption_keys) if k),
              "GATEWAY_KEY_ENCRYPTION_KEY", "must be a Fernet key (urlsafe base64 of 32 bytes)")
        check(not self.previous_key_encryption_keys or bool(self.key_encryption_key),
              "GATEWAY_PREVIOUS_KEY_ENCRYPTION_KEYS", "needs GATEWAY_KEY_ENCRYPTION_KEY (the one that seals now)")
        check(0 <= self.auth_cache_s <= 30, "GATEWAY_AUTH_CACHE_S", "must be 0-30")

    def upstream(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")


def _fernet_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except (ValueError, binascii.Error):
        return False
