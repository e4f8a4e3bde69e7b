from pathlib import Path

from services.records.app import create_app
from services.records.config import Settings
from shared.entrypoint import main

main("records", Settings, create_app, Path(__file__).parent / "migrations")
