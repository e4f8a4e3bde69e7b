"""The recorder authenticates to the gateway as a service account; a half-configured account is refused."""

from __future__ import annotations

import pytest

from services.sessions.config import Settings
from shared.config import ConfigError, load_settings


def test_half_a_service_account_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"^SESSIONS_RECORDING_TOKEN_URL"):
        load_settings(Settings, "SESSIONS", {"SESSIONS_RECORDING_SINK_URL": "http://gw/api/records/internal/recordings",
                                             "SESSIONS_RECORDING_CLIENT_ID": "recorder"})


def test_complete_service_account_is_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    s = load_settings(Settings, "SESSIONS", {
        "SESSIONS_RECORDING_SINK_URL": "http://gw/api/records/internal/recordings",
        "SESSIONS_RECORDING_TOKEN_URL": "http://gw/oauth/token",
        "SESSIONS_RECORDING_CLIENT_ID": "recorder",
        "SESSIONS_RECORDING_CLIENT_SECRET_FILE": str(secret),
    })
    assert s.recording_client_secret == "s3cr3t"
