from pathlib import Path

from services.sessions.app import create_app
from services.sessions.config import Settings
from shared.entrypoint import main

main("sessions", Settings, create_app, Path(__file__).parent / "migrations")
