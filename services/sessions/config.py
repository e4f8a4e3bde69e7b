"""sessions settings, read from SESSIONS_* environment variables."""

from dataclasses import dataclass
from typing import ClassVar

from shared.config import check, setting
from shared.settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings):
    PREFIX: ClassVar[str] = "SESSIONS"

    port: int = setting(8001, "TCP port of the HTTP server.")
    database_url: str = setting("sqlite:///var/sessions.db", "SQLAlchemy URL of the sessions database.")
    room_open_before_s: int = setting(600, "How long before a session's start its room opens (seconds).")
    room_close_after_s: int = setting(1800, "How long after a session's scheduled end its room stays open.")
    ice_urls: tuple[str, ...] = setting((), "STUN/TURN URLs handed to clients (comma-separated); empty: host only.")
    turn_secret: str = setting("", "coturn `static-auth-secret` for time-limited TURN credentials.", secret=True)
    turn_ttl_s: int = setting(300, "Lifetime of a minted TURN credential (seconds); renewed over signalling.")
    turn_renew_s: float = setting(0.0, "How often a member in a call is re-checked and gets fresh TURN "
                                  "credentials (seconds); 0: half the TTL.")
    ws_max_message_bytes: int = setting(65536, "Largest signalling frame accepted (bytes).")
    ws_rate_per_s: float = setting(20.0, "Sustained signalling messages per second per socket.")
    ws_burst: int = setting(60, "Burst of signalling messages a socket may send above the sustained rate.")
    reconnect_grace_s: float = setting(20.0, "A dropped member keeps their place in the room this long.")
    max_recordings: int = setting(8, "Concurrent recordings this instance accepts; beyond it refuses.")
    recording_keyframe_s: float = setting(
        4.0, "The recorder asks each member's camera for a keyframe at least this often (seconds), so that a "
        "recording seeks at once (a seek starts at the keyframe before it); 0: only when one was lost.")
    recording_sink_url: str = setting(
        "", "Records ingest URL the recorder streams WebM to (empty: recording is refused).")
    recording_token_url: str = setting(
        "", "Gateway OAuth token endpoint the recorder gets service-account tokens from (client credentials).")
    recording_client_id: str = setting("", "OAuth client id of the recorder's gateway service account.")
    recording_client_secret: str = setting("", "OAuth client secret of that service account.", secret=True)
    term_months: int = setting(6, "A pairing's initial term (months from activation); both members may extend it.")
    term_reminder_days: int = setting(14, "Both members are reminded this many days before their term ends.")
    term_sweep_interval_s: float = setting(
        300.0, "Seconds between checks for terms ending soon or ended (0 disables: terms never close).")
    keyring_path: str = setting("var/sessions-keyring.json",
                                "Key-encryption keyring sealing session agendas (this service's own, 0600).")

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.room_open_before_s >= 0, "SESSIONS_ROOM_OPEN_BEFORE_S", "must be >= 0")
        check(self.room_close_after_s >= 0, "SESSIONS_ROOM_CLOSE_AFTER_S", "must be >= 0")
        check(all(u.startswith(("stun:", "turn:", "turns:")) for u in self.ice_urls), "SESSIONS_ICE_URLS",
              "each URL must start with stun:, turn: or turns:")
        check(not any(u.startswith("turn") for u in self.ice_urls) or bool(self.turn_secret),
              "SESSIONS_TURN_SECRET", "required when a turn: URL is configured")
        check(60 <= self.turn_ttl_s <= 86400, "SESSIONS_TURN_TTL_S", "must be 60-86400")
        check(0 <= self.turn_renew_s < self.turn_ttl_s, "SESSIONS_TURN_RENEW_S", "must be 0 or less than the TTL")
        # The service account is all or nothing; without one the sink gets no Authorization header
        # (only useful for a sink that authenticates otherwise: the gateway refuses such uploads).
        account = ("recording_token_url", "recording_client_id", "recording_client_secret")
        if any(getattr(self, name) for name in account):
            for name in account:
                check(bool(getattr(self, name)), f"SESSIONS_{name.upper()}",
                      "set SESSIONS_RECORDING_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET together")
        check(1024 <= self.ws_max_message_bytes <= 1_048_576, "SESSIONS_WS_MAX_MESSAGE_BYTES", "must be 1 KiB-1 MiB")
        check(self.ws_rate_per_s > 0 and self.ws_burst >= 1, "SESSIONS_WS_RATE_PER_S", "rate and burst must be > 0")
        check(self.reconnect_grace_s >= 0, "SESSIONS_RECONNECT_GRACE_S", "must be >= 0")
        check(self.max_recordings >= 0, "SESSIONS_MAX_RECORDINGS", "must be >= 0")
        check(self.recording_keyframe_s == 0 or self.recording_keyframe_s >= 1, "SESSIONS_RECORDING_KEYFRAME_S",
              "must be 0 or at least 1")
        check(bool(self.keyring_path), "SESSIONS_KEYRING_PATH", "must be set")
        check(1 <= self.term_months <= 60, "SESSIONS_TERM_MONTHS", "must be 1-60")
        check(0 <= self.term_reminder_days <= 90, "SESSIONS_TERM_REMINDER_DAYS", "must be 0-90")
        check(self.term_sweep_interval_s >= 0, "SESSIONS_TERM_SWEEP_INTERVAL_S", "must be >= 0")

